struct Doubler {
    factor: u32,
}
#[automatically_derived]
impl my_crate::worker_utils::__private::Worker for Doubler
where
    for<'__worker_deferred> Double: my_crate::worker_utils::__private::Action<()>,
{
    type Deps = ();
    type Pipeline = Double;
    fn queue(&self) -> &::core::primitive::str {
        "numbers"
    }
    fn pipeline(&self) -> Self::Pipeline {
        <Double>::new()
    }
}
const _: () = {
    my_crate::worker_utils::__private::step::<(), Double>();
};
