struct PaymentWorker;
#[automatically_derived]
impl ::worker_utils::__private::Worker for PaymentWorker
where
    for<'__worker_deferred> Charge: ::worker_utils::__private::Action<()>,
{
    type Deps = ();
    type Pipeline = Charge;
    fn queue(&self) -> &::core::primitive::str {
        "payments"
    }
    fn pipeline(&self) -> Self::Pipeline {
        <Charge>::new()
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
const _: () = {
    ::worker_utils::__private::step::<(), Charge>();
};
