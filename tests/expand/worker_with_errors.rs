struct Broken;
const _: () = {
    mod __worker_stand_ins {
        pub(super) mod __worker_names {
            #[allow(dead_code, non_camel_case_types)]
            pub(in super::super) enum fetch_image {}
            #[allow(dead_code, non_camel_case_types)]
            pub(in super::super) enum upload {}
        }
        #[allow(unused_imports)]
        pub(super) use self::__worker_names::fetch_image as __worker_step_0;
        #[allow(unused_imports)]
        pub(super) use self::__worker_names::upload as __worker_step_1;
    }
    #[allow(unused_imports)]
    use __worker_stand_ins::*;
    #[allow(unused_imports)]
    use fetch_image as __worker_step_0;
    #[allow(unused_imports)]
    use upload as __worker_step_1;
    #[automatically_derived]
    impl ::worker_utils::__private::Worker for Broken
    where
        for<'__worker_deferred> ::worker_utils::__private::Then<
            ::worker_utils::__private::FnAction<__worker_step_0>,
            ::worker_utils::__private::FnAction<__worker_step_1>,
        >: ::worker_utils::__private::Action<()>,
        for<'__worker_deferred> __worker_step_0: ::worker_utils::__private::ActionStack,
        for<'__worker_deferred> __worker_step_1: ::worker_utils::__private::ActionStack,
    {
        type Deps = ();
        type Pipeline = ::worker_utils::__private::Then<
            ::worker_utils::__private::FnAction<__worker_step_0>,
            ::worker_utils::__private::FnAction<__worker_step_1>,
        >;
        fn queue(&self) -> &::core::primitive::str {
            ""
        }
        fn pipeline(&self) -> Self::Pipeline {
            ::worker_utils::__private::Then::new(
                ::worker_utils::__private::FnAction::<__worker_step_0>::new(),
                ::worker_utils::__private::FnAction::<__worker_step_1>::new(),
            )
        }
    }
    ::worker_utils::__private::link::<
        (),
        __worker_step_1,
        _,
        _,
    >(::worker_utils::__private::step::<(), __worker_step_0>());
};
::core::compile_error! {
    "unknown `#[worker]` argument `retries`; expected one of: `queue`, `deps`, `pipeline`, `concurrency`, `redeliver`, `alert`, `crate`"
}
::core::compile_error! {
    "`queue` must not be empty: name the queue this worker consumes"
}
::core::compile_error! {
    "`concurrency` must be at least 1"
}
