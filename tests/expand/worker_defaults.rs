struct Doubler {
    factor: u32,
}
const _: () = {
    mod __worker_stand_ins {
        pub(super) mod __worker_names {
            #[allow(dead_code, non_camel_case_types)]
            pub(in super::super) enum double {}
        }
        #[allow(unused_imports)]
        pub(super) use self::__worker_names::double as __worker_step_0;
    }
    #[allow(unused_imports)]
    use __worker_stand_ins::*;
    #[allow(unused_imports)]
    use double as __worker_step_0;
    #[automatically_derived]
    impl my_crate::worker_utils::__private::Worker for Doubler
    where
        for<'__worker_deferred> my_crate::worker_utils::__private::FnAction<
            __worker_step_0,
        >: my_crate::worker_utils::__private::Action<()>,
        for<'__worker_deferred> __worker_step_0: my_crate::worker_utils::__private::ActionStack,
    {
        type Deps = ();
        type Pipeline = my_crate::worker_utils::__private::FnAction<__worker_step_0>;
        fn queue(&self) -> &::core::primitive::str {
            "numbers"
        }
        fn pipeline(&self) -> Self::Pipeline {
            my_crate::worker_utils::__private::FnAction::<__worker_step_0>::new()
        }
    }
    my_crate::worker_utils::__private::step::<(), __worker_step_0>();
};
