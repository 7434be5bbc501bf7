struct PaymentWorker;
const _: () = {
    mod __worker_stand_ins {
        pub(super) mod __worker_names {
            #[allow(dead_code, non_camel_case_types)]
            pub(in super::super) enum charge {}
        }
        #[allow(unused_imports)]
        pub(super) use self::__worker_names::charge as __worker_step_0;
    }
    #[allow(unused_imports)]
    use __worker_stand_ins::*;
    #[allow(unused_imports)]
    use charge as __worker_step_0;
    #[automatically_derived]
    impl ::worker_utils::__private::Worker for PaymentWorker
    where
        for<'__worker_deferred> ::worker_utils::__private::FnAction<
            __worker_step_0,
        >: ::worker_utils::__private::Action<()>,
        for<'__worker_deferred> __worker_step_0: ::worker_utils::__private::ActionStack,
    {
        type Deps = ();
        type Pipeline = ::worker_utils::__private::FnAction<__worker_step_0>;
        fn queue(&self) -> &::core::primitive::str {
            "payments"
        }
        fn pipeline(&self) -> Self::Pipeline {
            ::worker_utils::__private::FnAction::<__worker_step_0>::new()
        }
        fn redelivery(&self) -> ::worker_utils::__private::RedeliveryPolicy {
            ::worker_utils::__private::redelivery_policy(
                ::worker_utils::__private::RedeliveryPolicy::builder()
                    .max_deliveries(8u32)
                    .base_delay(::core::time::Duration::from_secs(30u64))
                    .max_delay(::core::time::Duration::from_secs(7200u64))
                    .backoff(::worker_utils::__private::Backoff::Exponential {
                        factor: 3.0,
                    })
                    .jitter(::worker_utils::__private::Jitter::Equal)
                    .redeliver_on([
                        ::worker_utils::__private::ErrorKind::Transient,
                        ::worker_utils::__private::ErrorKind::System,
                    ]),
            )
        }
    }
    ::worker_utils::__private::step::<(), __worker_step_0>();
};
