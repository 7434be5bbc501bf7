pub struct Thumbnails;
#[automatically_derived]
impl ::worker_utils::__private::Worker for Thumbnails
where
    for<'__worker_deferred> ::worker_utils::__private::Then<
        FetchImage,
        steps::Resize,
    >: ::worker_utils::__private::Action<Deps>,
{
    type Deps = Deps;
    type Pipeline = ::worker_utils::__private::Then<FetchImage, steps::Resize>;
    fn queue(&self) -> &::core::primitive::str {
        "thumbnails"
    }
    fn pipeline(&self) -> Self::Pipeline {
        ::worker_utils::__private::Then::new(<FetchImage>::new(), <steps::Resize>::new())
    }
    fn alerts(&self) -> ::std::vec::Vec<::worker_utils::__private::AlertRule> {
        ::worker_utils::__private::alert_rules([
            ::worker_utils::__private::AlertRule::failure_rate(0.5f64)
                .window(::core::time::Duration::from_secs(120u64))
                .min_calls(20u32),
            ::worker_utils::__private::AlertRule::dead_letter_rate(0.1f64)
                .resolve_below(0.02f64)
                .action(<steps::Resize>::NAME)
                .name("resize-dead-letters"),
        ])
    }
}
const _: () = {
    ::worker_utils::__private::link::<
        Deps,
        steps::Resize,
        _,
        _,
    >(::worker_utils::__private::step::<Deps, FetchImage>());
};
