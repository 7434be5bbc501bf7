/// Makes thumbnails.
#[derive(Debug)]
pub struct ThumbnailWorker;
#[automatically_derived]
impl ::worker_utils::__private::Worker for ThumbnailWorker
where
    for<'__worker_deferred> ::worker_utils::__private::Then<
        ::worker_utils::__private::Then<FetchImage, MakeThumbnail>,
        steps::Upload,
    >: ::worker_utils::__private::Action<Deps>,
{
    type Deps = Deps;
    type Pipeline = ::worker_utils::__private::Then<
        ::worker_utils::__private::Then<FetchImage, MakeThumbnail>,
        steps::Upload,
    >;
    fn queue(&self) -> &::core::primitive::str {
        "thumbnails"
    }
    fn pipeline(&self) -> Self::Pipeline {
        ::worker_utils::__private::Then::new(
            ::worker_utils::__private::Then::new(
                <FetchImage>::new(),
                <MakeThumbnail>::new(),
            ),
            <steps::Upload>::new(),
        )
    }
    fn concurrency(&self) -> ::core::primitive::usize {
        8
    }
}
const _: () = {
    ::worker_utils::__private::link::<
        Deps,
        steps::Upload,
        _,
        _,
    >(
        ::worker_utils::__private::link::<
            Deps,
            MakeThumbnail,
            _,
            _,
        >(::worker_utils::__private::step::<Deps, FetchImage>()),
    );
};
