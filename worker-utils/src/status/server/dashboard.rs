//! The live dashboard's assets, embedded in the binary, and the headers they are served
//! with (a Content-Security-Policy that allows only the page's own script, style and
//! WebSocket).

use super::http::Response;

/// The policy of every dashboard response: nothing but the page's own files and its own
/// server's WebSocket; no inline script or style, no `eval`, no framing, no forms.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// One embedded file.
#[derive(Debug)]
pub(crate) struct Asset {
    pub(crate) path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

/// Every file the dashboard is made of, by path.
pub(crate) static ASSETS: [Asset; 3] = [
    Asset { path: "/", content_type: "text/html; charset=utf-8", body: include_str!("dashboard/index.html") },
    Asset {
        path: "/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("dashboard/app.js"),
    },
    Asset {
        path: "/app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("dashboard/app.css"),
    },
];

/// The asset served at `path`, if any.
pub(crate) fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.path == path)
}

impl Asset {
    /// The `200` answer with the file.
    pub(crate) fn response(&self) -> Response {
        secured(Response::with_static_body(200, self.content_type, self.body.as_bytes()))
    }
}

/// Adds the headers every dashboard and admin answer carries.
pub(crate) fn secured(response: Response) -> Response {
    response
        .header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        .header("Referrer-Policy", "no-referrer")
        .header("X-Frame-Options", "DENY")
        .header("Cross-Origin-Opener-Policy", "same-origin")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_found_by_its_path_with_its_type() {
        for asset in &ASSETS {
            let response = super::asset(asset.path).unwrap().response();
            assert_eq!(response.status(), 200);
            assert_eq!(response.body(), asset.body.as_bytes());
            assert_eq!(response.header_value("content-type"), Some(asset.content_type));
            assert_eq!(response.header_value("content-security-policy"), Some(CONTENT_SECURITY_POLICY));
            assert_eq!(response.header_value("x-content-type-options"), Some("nosniff"));
        }
        assert!(super::asset("/index.html").is_none());
        assert!(super::asset("/app.js/").is_none());
    }

    #[test]
    fn the_policy_forbids_inline_script_and_eval() {
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-eval"));
        assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self'"));
    }
}
