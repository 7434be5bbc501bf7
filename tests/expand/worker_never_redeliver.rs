struct EmailWorker;
#[automatically_derived]
impl ::worker_utils::__private::Worker for EmailWorker
where
    for<'__worker_deferred> SendEmail: ::worker_utils::__private::Action<()>,
{
    type Deps = ();
    type Pipeline = SendEmail;
    fn queue(&self) -> &::core::primitive::str {
        "emails"
    }
    fn pipeline(&self) -> Self::Pipeline {
        <SendEmail>::new()
    }
    fn redelivery(&self) -> ::worker_utils::__private::RedeliveryPolicy {
        ::worker_utils::__private::RedeliveryPolicy::never()
    }
}
const _: () = {
    ::worker_utils::__private::step::<(), SendEmail>();
};
