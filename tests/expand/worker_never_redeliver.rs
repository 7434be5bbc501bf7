struct EmailWorker;
const _: () = {
    mod __worker_stand_ins {
        pub(super) mod __worker_names {
            #[allow(dead_code, non_camel_case_types)]
            pub(in super::super) enum send_email {}
        }
        #[allow(unused_imports)]
        pub(super) use self::__worker_names::send_email as __worker_step_0;
    }
    #[allow(unused_imports)]
    use __worker_stand_ins::*;
    #[allow(unused_imports)]
    use send_email as __worker_step_0;
    #[automatically_derived]
    impl ::worker_utils::__private::Worker for EmailWorker
    where
        for<'__worker_deferred> ::worker_utils::__private::FnAction<
            __worker_step_0,
        >: ::worker_utils::__private::Action<()>,
        for<'__worker_deferred> __worker_step_0: ::worker_utils::__private::ActionStack,
    {
        type Deps = ();
        type Pipeline = ::worker_utils::__private::FnAction<__worker_step_0>;
        fn queue(&self) -> &::core::primitive::str {
            "emails"
        }
        fn pipeline(&self) -> Self::Pipeline {
            ::worker_utils::__private::FnAction::<__worker_step_0>::new()
        }
        fn redelivery(&self) -> ::worker_utils::__private::RedeliveryPolicy {
            ::worker_utils::__private::RedeliveryPolicy::never()
        }
    }
    ::worker_utils::__private::step::<(), __worker_step_0>();
};
