//! `fleetsim up --http`: the drill so far as the HTML report `--report`
//! writes at its end, served over HTTP and refreshed every second, so a
//! class can watch a drill on a projector. No external assets: the page is
//! the report plus a small inline script that polls `/report`.

use std::convert::Infallible;
use std::net::SocketAddr;

use fleetsim_scenario::live::LiveHandle;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;

/// Polls `/report` every second and swaps the report's `<main>` in place
/// (the script sits outside it, so it survives the swap). When the fleet
/// is gone the last page stays, dimmed, and a banner on the page (seen on
/// a projector, where the tab's title is not) and the title say so.
const SCRIPT: &str = r#"<script>(function(){
var q=location.search,busy=false,title=document.title;
var b=document.createElement('div');b.id='stale';b.setAttribute('role','status');
b.textContent='Not updating: the fleet has stopped or cannot be reached. This is the drill as last seen.';
b.style.cssText='display:none;position:fixed;top:0;left:0;right:0;padding:.6em 1em;background:#b91c1c;color:#fff;font:600 1.1em system-ui,sans-serif;text-align:center;z-index:10';
document.body.appendChild(b);
setInterval(function(){
 if(busy)return;busy=true;
 fetch('/report'+q,{cache:'no-store'}).then(function(r){if(!r.ok)throw new Error(r.status);return r.text()}).then(function(t){
  var d=new DOMParser().parseFromString(t,'text/html'),m=document.querySelector('main'),n=d.querySelector('main');
  if(m&&n&&m.innerHTML!==n.innerHTML)m.replaceWith(n);
  title=d.title;document.title=title;document.querySelector('main').style.opacity='';b.style.display='none';document.body.style.paddingTop='';
 }).catch(function(){document.title='(not updating) '+title;document.querySelector('main').style.opacity='.6';b.style.display='block';document.body.style.paddingTop=b.offsetHeight+'px'}).finally(function(){busy=false});
},1000);
})();</script>"#;

/// Binds the live page's port, so that `up` announces the fleet only once
/// every port is its own; a port in use is named.
pub(crate) async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                "port {} of the live page ({addr}) is in use: stop what holds it, or give another --http ADDR{}",
                addr.port(),
                fleetsim_scenario::live::ephemeral_note(addr.port())
            )
        } else {
            format!("cannot bind the live page on {addr}: {e}")
        }
    })
}

/// Serves the live page on `listener` until the runtime ends: `/` is the
/// report with its refreshing script, `/report` the report alone. With
/// `token`, every request needs `?token=TOKEN` or `authorization: Bearer
/// TOKEN`, as the control API does.
pub(crate) async fn serve(
    handle: LiveHandle,
    listener: tokio::net::TcpListener,
    token: Option<String>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, say: wait a little rather than spin.
                tracing::warn!("live page: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let handle = handle.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let reply = answer(&handle, token.as_deref(), &req);
                async move { Ok::<_, Infallible>(reply) }
            });
            // hyper's wall-clock `date` header is on here, as on the
            // control API: live-only, so no sim byte depends on it.
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!("live page: connection ended: {e}");
            }
        });
    }
}

/// The reply to one request.
fn answer<B>(handle: &LiveHandle, token: Option<&str>, req: &Request<B>) -> Response<String> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
    }
    if !authorized(token, req) {
        return text(
            StatusCode::UNAUTHORIZED,
            "this live page needs its token: open it as /?token=TOKEN (the token `fleetsim up` was given)\n",
        );
    }
    match req.uri().path() {
        "/" => html(page(&report(handle))),
        "/report" => html(report(handle)),
        _ => text(StatusCode::NOT_FOUND, "not found: the live page is at /\n"),
    }
}

/// The drill so far, rendered exactly as `up --report` writes it at the end.
fn report(handle: &LiveHandle) -> String {
    fleetsim_report::html::render(&handle.outcome())
}

/// The report with its refreshing script, just before `</body>`.
fn page(report: &str) -> String {
    match report.rfind("</body>") {
        Some(i) => format!("{}{SCRIPT}{}", &report[..i], &report[i..]),
        None => format!("{report}{SCRIPT}"),
    }
}

/// Whether `req` may see the page: always without a token; with one, it
/// must come as `?token=` or as a bearer token, and a blank one never does.
fn authorized<B>(token: Option<&str>, req: &Request<B>) -> bool {
    let Some(want) = token else {
        return true;
    };
    if fleetsim_scenario::live::blank_token(want) {
        return false;
    }
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(fleetsim_scenario::live::bearer_token);
    let query = req.uri().query().unwrap_or("").split('&').find_map(|kv| {
        kv.strip_prefix("token=")
            .map(|v| percent_decode(v).unwrap_or_default())
    });
    bearer == Some(want) || query.as_deref() == Some(want)
}

/// `%XX` and `+` decoded, as a browser encodes a query; `None` if invalid.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// An HTML reply that is never cached: it is the drill at this moment.
fn html(body: String) -> Response<String> {
    reply(StatusCode::OK, "text/html; charset=utf-8", body)
}

/// A plain-text reply.
fn text(status: StatusCode, body: &str) -> Response<String> {
    reply(status, "text/plain; charset=utf-8", body.to_string())
}

/// A reply of `kind` that no browser or proxy keeps.
fn reply(status: StatusCode, kind: &str, body: String) -> Response<String> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_str(kind).expect("a valid content type"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(uri: &str, bearer: Option<&str>) -> Request<()> {
        let mut b = Request::get(uri);
        if let Some(t) = bearer {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        b.body(()).unwrap()
    }

    #[test]
    fn a_page_with_a_token_lets_in_only_that_token_by_query_or_bearer() {
        let t = Some("s3 cret&");
        assert!(authorized(None, &get("/", None)));
        assert!(!authorized(t, &get("/", None)));
        assert!(!authorized(t, &get("/?token=wrong", None)));
        assert!(authorized(t, &get("/?token=s3+cret%26", None)));
        assert!(authorized(t, &get("/report?x=1&token=s3%20cret%26", None)));
        assert!(authorized(t, &get("/", Some("s3 cret&"))));
        assert!(!authorized(Some(" "), &get("/?token=+", None)));
    }

    #[test]
    fn the_page_is_the_report_with_its_script_before_the_end_of_the_body() {
        let p = page("<html><body><main>r</main></body></html>");
        assert!(p.starts_with("<html><body><main>r</main><script>"));
        assert!(p.ends_with("</script></body></html>"));
    }
}
