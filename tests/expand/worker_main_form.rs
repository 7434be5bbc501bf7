/// Makes thumbnails.
#[derive(Debug)]
pub struct ThumbnailWorker;
const _: () = {
    mod __worker_stand_ins {
        pub(super) mod __worker_names {
            #[allow(dead_code, non_camel_case_types)]
            pub(in super::super) enum fetch_image {}
            #[allow(dead_code, non_camel_case_types)]
            pub(in super::super) enum make_thumbnail {}
            #[allow(dead_code, non_camel_case_types)]
            pub(in super::super) enum upload {}
        }
        #[allow(unused_imports)]
        pub(super) use self::__worker_names::fetch_image as __worker_step_0;
        #[allow(unused_imports)]
        pub(super) use self::__worker_names::make_thumbnail as __worker_step_1;
        #[allow(unused_imports)]
        pub(super) use self::__worker_names::upload as __worker_step_2;
    }
    #[allow(unused_imports)]
    use __worker_stand_ins::*;
    #[allow(unused_imports)]
    use fetch_image as __worker_step_0;
    #[allow(unused_imports)]
    use make_thumbnail as __worker_step_1;
    #[allow(unused_imports)]
    use steps::upload as __worker_step_2;
    #[automatically_derived]
    impl ::worker_utils::__private::Worker for ThumbnailWorker
    where
        for<'__worker_deferred> ::worker_utils::__private::Then<
            ::worker_utils::__private::Then<
                ::worker_utils::__private::FnAction<__worker_step_0>,
                ::worker_utils::__private::FnAction<__worker_step_1>,
            >,
            ::worker_utils::__private::FnAction<__worker_step_2>,
        >: ::worker_utils::__private::Action<Deps>,
        for<'__worker_deferred> __worker_step_0: ::worker_utils::__private::ActionStack,
        for<'__worker_deferred> __worker_step_1: ::worker_utils::__private::ActionStack,
        for<'__worker_deferred> __worker_step_2: ::worker_utils::__private::ActionStack,
    {
        type Deps = Deps;
        type Pipeline = ::worker_utils::__private::Then<
            ::worker_utils::__private::Then<
                ::worker_utils::__private::FnAction<__worker_step_0>,
                ::worker_utils::__private::FnAction<__worker_step_1>,
            >,
            ::worker_utils::__private::FnAction<__worker_step_2>,
        >;
        fn queue(&self) -> &::core::primitive::str {
            "thumbnails"
        }
        fn pipeline(&self) -> Self::Pipeline {
            ::worker_utils::__private::Then::new(
                ::worker_utils::__private::Then::new(
                    ::worker_utils::__private::FnAction::<__worker_step_0>::new(),
                    ::worker_utils::__private::FnAction::<__worker_step_1>::new(),
                ),
                ::worker_utils::__private::FnAction::<__worker_step_2>::new(),
            )
        }
        fn concurrency(&self) -> ::core::primitive::usize {
            8
        }
    }
    ::worker_utils::__private::link::<
        Deps,
        __worker_step_2,
        _,
        _,
    >(
        ::worker_utils::__private::link::<
            Deps,
            __worker_step_1,
            _,
            _,
        >(::worker_utils::__private::step::<Deps, __worker_step_0>()),
    );
};
