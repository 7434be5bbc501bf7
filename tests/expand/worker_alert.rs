pub struct Thumbnails;
const _: () = {
    mod __worker_stand_ins {
        pub(super) mod __worker_names {
            #[allow(dead_code, non_camel_case_types)]
            pub(in super::super) enum fetch_image {}
            #[allow(dead_code, non_camel_case_types)]
            pub(in super::super) enum resize {}
        }
        #[allow(unused_imports)]
        pub(super) use self::__worker_names::fetch_image as __worker_step_0;
        #[allow(unused_imports)]
        pub(super) use self::__worker_names::resize as __worker_step_1;
    }
    #[allow(unused_imports)]
    use __worker_stand_ins::*;
    #[allow(unused_imports)]
    use fetch_image as __worker_step_0;
    #[allow(unused_imports)]
    use steps::resize as __worker_step_1;
    #[automatically_derived]
    impl ::worker_utils::__private::Worker for Thumbnails
    where
        for<'__worker_deferred> ::worker_utils::__private::Then<
            ::worker_utils::__private::FnAction<__worker_step_0>,
            ::worker_utils::__private::FnAction<__worker_step_1>,
        >: ::worker_utils::__private::Action<Deps>,
        for<'__worker_deferred> __worker_step_0: ::worker_utils::__private::ActionStack,
        for<'__worker_deferred> __worker_step_1: ::worker_utils::__private::ActionStack,
    {
        type Deps = Deps;
        type Pipeline = ::worker_utils::__private::Then<
            ::worker_utils::__private::FnAction<__worker_step_0>,
            ::worker_utils::__private::FnAction<__worker_step_1>,
        >;
        fn queue(&self) -> &::core::primitive::str {
            "thumbnails"
        }
        fn pipeline(&self) -> Self::Pipeline {
            ::worker_utils::__private::Then::new(
                ::worker_utils::__private::FnAction::<__worker_step_0>::new(),
                ::worker_utils::__private::FnAction::<__worker_step_1>::new(),
            )
        }
        fn alerts(&self) -> ::std::vec::Vec<::worker_utils::__private::AlertRule> {
            ::worker_utils::__private::alert_rules([
                ::worker_utils::__private::AlertRule::failure_rate(0.5f64)
                    .window(::core::time::Duration::from_secs(120u64))
                    .min_calls(20u32),
                ::worker_utils::__private::AlertRule::dead_letter_rate(0.1f64)
                    .resolve_below(0.02f64)
                    .action(
                        <__worker_step_1 as ::worker_utils::__private::ActionStack>::NAME,
                    )
                    .name("resize-dead-letters"),
            ])
        }
    }
    ::worker_utils::__private::link::<
        Deps,
        __worker_step_1,
        _,
        _,
    >(::worker_utils::__private::step::<Deps, __worker_step_0>());
};
