struct Broken;
#[automatically_derived]
impl ::worker_utils::__private::Worker for Broken
where
    for<'__worker_deferred> ::worker_utils::__private::Then<
        FetchImage,
        Upload,
    >: ::worker_utils::__private::Action<()>,
{
    type Deps = ();
    type Pipeline = ::worker_utils::__private::Then<FetchImage, Upload>;
    fn queue(&self) -> &::core::primitive::str {
        ""
    }
    fn pipeline(&self) -> Self::Pipeline {
        ::worker_utils::__private::Then::new(<FetchImage>::new(), <Upload>::new())
    }
}
const _: () = {
    ::worker_utils::__private::link::<
        (),
        Upload,
        _,
        _,
    >(::worker_utils::__private::step::<(), FetchImage>());
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
