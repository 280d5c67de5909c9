//! The demo's pages: plain HTML with a little script that starts a scan job, redraws its
//! rotating QR code every second and shows the outcome.

use super::Demo;
use super::api::{bidder_of, browser};
use super::unix_now;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

pub(crate) fn routes() -> Router<Arc<Demo>> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/bid", get(bid))
        .route("/opening", get(opening))
        .route("/preauth", get(preauth))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = r#"
body{font-family:"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;background:#f4f6f9;color:#222}
header{background:#b71c1c;color:#fff;padding:14px 28px;font-size:20px}
nav{background:#fff;padding:10px 28px;border-bottom:1px solid #ddd}
nav a{margin-right:24px;color:#b71c1c;text-decoration:none}
main{padding:24px 28px;max-width:960px}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:20px;margin-bottom:18px}
.qr img{width:280px;height:280px;image-rendering:pixelated;background:#fff}
.code{font-size:28px;letter-spacing:6px;color:#b71c1c}
.state{font-size:18px;margin-top:12px}
.done{color:#1b5e20}.failed{color:#b71c1c}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:8px;text-align:left}
button{background:#b71c1c;color:#fff;border:0;border-radius:4px;padding:8px 16px;font-size:15px;cursor:pointer}
"#;

/// The scan widget: `start(url, options)` posts, then polls the job and redraws the QR.
const SCRIPT: &str = r#"
let timer = null;
async function startScan(url, init) {
  const r = await fetch(url, Object.assign({method: 'POST', credentials: 'same-origin'}, init || {}));
  const j = await r.json();
  if (!r.ok) { setState('failed', j.error || '请求失败'); return null; }
  const job = j.job || j;
  document.getElementById('scan').style.display = 'block';
  document.getElementById('code').textContent = job.code;
  follow(job.request_id);
  return j;
}
function setState(state, message) {
  const el = document.getElementById('state');
  el.textContent = message; el.className = 'state ' + state; el.dataset.state = state;
}
function follow(id) {
  const img = document.getElementById('qr');
  img.dataset.requestId = id;
  const tick = async () => {
    const r = await fetch('/api/jobs/' + id);
    const j = await r.json();
    setState(j.state, j.message);
    if (j.state === 'done' || j.state === 'failed') {
      clearInterval(timer); img.style.opacity = 0.15; if (window.onDone) window.onDone(j); return;
    }
    img.src = '/api/jobs/' + id + '/qr.svg?t=' + Date.now();
  };
  if (timer) clearInterval(timer);
  tick(); timer = setInterval(tick, 1000);
}
"#;

fn page(demo: &Demo, title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title} - {name}</title><style>{STYLE}</style></head>
<body><header>{name}（Bidkey 演示平台）</header>
<nav><a href="/">首页</a><a href="/login">扫码登录</a><a href="/bid">投标文件</a><a href="/preauth">预授权开标</a><a href="/opening">开标大厅</a></nav>
<main>{body}</main><script>{SCRIPT}</script></body></html>"#,
        name = escape(&demo.name),
    )
}

const SCAN_WIDGET: &str = r#"<div id="scan" class="card qr" style="display:none">
<p>请打开 Bidkey，扫描下方二维码（每秒更新）。核对手机上显示的验证码：<span id="code" class="code"></span></p>
<img id="qr" alt="二维码"><div id="state" class="state"></div></div>"#;

fn respond(cookie: Option<axum::http::HeaderValue>, html: String) -> Response {
    let mut resp = Html(html).into_response();
    if let Some(c) = cookie {
        resp.headers_mut().insert(header::SET_COOKIE, c);
    }
    resp
}

async fn home(State(demo): State<Arc<Demo>>, headers: HeaderMap) -> Response {
    let (sid, cookie) = browser(&headers);
    let who = match bidder_of(&demo, &sid) {
        Some(b) => format!("<p id=\"who\">当前登录：{}</p>", escape(&b.name)),
        None => "<p id=\"who\">尚未登录。</p>".into(),
    };
    let body = format!(
        r#"<div class="card"><h2>{}</h2><p>开标时间：<span id="opening-at" data-ts="{}"></span></p>{who}
<p>投标人使用 Bidkey 手机证书扫码登录、签章投标文件，并在开标时扫码解密。</p></div>
<script>document.getElementById('opening-at').textContent=new Date({}*1000).toLocaleString('zh-CN');</script>"#,
        escape(&demo.tender.name),
        demo.tender.opening_at,
        demo.tender.opening_at
    );
    respond(cookie, page(&demo, "首页", &body))
}

async fn login(State(demo): State<Arc<Demo>>, headers: HeaderMap) -> Response {
    let (_, cookie) = browser(&headers);
    let body = format!(
        r#"<div class="card"><h2>扫码登录</h2><p>使用企业证书登录交易平台。</p>
<button id="start" onclick="startScan('/api/login')">显示登录二维码</button></div>{SCAN_WIDGET}"#
    );
    respond(cookie, page(&demo, "扫码登录", &body))
}

async fn bid(State(demo): State<Arc<Demo>>, headers: HeaderMap) -> Response {
    let (sid, cookie) = browser(&headers);
    let body = match bidder_of(&demo, &sid) {
        None => {
            r#"<div class="card"><p id="need-login">请先<a href="/login">扫码登录</a>。</p></div>"#
                .to_owned()
        }
        Some(b) => format!(
            r#"<div class="card"><h2>上传并签章投标文件</h2><p>投标人：{}</p>
<p>请先用 Bidkey 加密投标文件（手机 App 或 <code>bidkey bid encrypt</code>），加密到贵单位在本平台获授权人员的加密证书。平台只接收密文，检查其项目、平台与接收人，计算密文的 SM3 摘要并请您扫码签章；开标前平台看不到明文。</p>
<input type="file" id="file"> <button id="upload" onclick="upload()">上传并签章</button></div>{SCAN_WIDGET}
<script>
async function upload() {{
  const f = document.getElementById('file').files[0];
  if (!f) {{ alert('请选择文件'); return; }}
  await startScan('/api/bids?name=' + encodeURIComponent(f.name), {{body: f}});
}}
</script>"#,
            escape(&b.name)
        ),
    };
    respond(cookie, page(&demo, "投标文件", &body))
}

async fn opening(State(demo): State<Arc<Demo>>, headers: HeaderMap) -> Response {
    let (_, cookie) = browser(&headers);
    let bids: Vec<_> = demo
        .lock()
        .bids
        .iter()
        .filter(|b| !b.document_only)
        .cloned()
        .collect();
    let mut rows_of = Vec::with_capacity(bids.len());
    for b in &bids {
        rows_of.push(demo.hall_row(b).await);
    }
    let rows: String = bids
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let signed = match &b.signature {
                Some(sig) => match &sig.seal {
                    Some(seal) => format!(
                        "<img class=\"seal\" width=\"48\" height=\"48\" alt=\"印章\" src=\"data:image/png;base64,{}\"> 已签章：{}（电子印章 {}，esID {}，{}×{} mm，制章者 {}，有效至 {}，签章人{}在印章证书列表中，签章时间 {}）",
                        {
                            use base64::Engine;
                            base64::engine::general_purpose::STANDARD.encode(&seal.picture_png)
                        },
                        escape(&sig.signer),
                        escape(&seal.name),
                        escape(&seal.es_id),
                        seal.width_mm,
                        seal.height_mm,
                        escape(&seal.maker),
                        seal.valid_end,
                        if seal.signer_listed { "" } else { "不" },
                        seal.used_at
                    ),
                    None => format!("已签章：{}", escape(&sig.signer)),
                },
                None => "未签章".to_owned(),
            };
            let row = &rows_of[i];
            let warn: String = row
                .warnings
                .iter()
                .map(|w| format!(" <span class=\"warn\" title=\"{}\">{}</span>", escape(&w.en), escape(&w.zh)))
                .collect();
            let recipients = format!("{}{warn}", escape(&row.recipients_line.zh));
            let check = escape(&row.self_check.zh);
            let preauth = format!(
                "<span class=\"preauth-state\" data-state=\"{}\">{}</span>",
                row.preauth.state,
                escape(&row.preauth.zh)
            );
            let preauth_button = format!(
                r#" <button class="preauth" data-bid="{}" onclick="openPreauthorised('{}')">预授权解密</button>"#,
                b.id, b.id
            );
            let failed = if row.opening.state == "failed" {
                format!("<span class=\"warn\">{}</span> ", escape(&row.opening.zh))
            } else {
                String::new()
            };
            let state = match &b.opened {
                Some(_) => escape(&row.opening.zh),
                None if b.threshold >= 2 => {
                    let buttons: String = b
                        .recipient_serials
                        .iter()
                        .enumerate()
                        .map(|(i, serial)| {
                            format!(
                                r#"<button class="open-share" data-bid="{}" onclick="startScan('/api/bids/{}/open?recipient={}')">接收人 {} 扫码</button> "#,
                                b.id,
                                b.id,
                                escape(serial),
                                i + 1
                            )
                        })
                        .collect();
                    let collecting = if row.opening.state == "collecting" {
                        escape(&row.opening.zh)
                    } else {
                        format!("需 {} / {} 人联合解密", b.threshold, b.recipient_serials.len())
                    };
                    format!("{failed}{collecting}：{buttons}{preauth_button}")
                }
                None => format!(
                    r#"{failed}<button class="open" data-bid="{}" onclick="startScan('/api/bids/{}/open')">扫码解密</button>{preauth_button}"#,
                    b.id, b.id
                ),
            };
            format!(
                "<tr data-bid=\"{}\"><td>{}</td><td>{}</td><td>{} 字节</td><td>{recipients}</td><td>{signed}</td><td class=\"self-check\">{check}</td><td class=\"preauth-cell\">{preauth}</td><td class=\"status\">{state}</td></tr>",
                b.id,
                escape(&b.bidder.name),
                escape(&b.file_name),
                b.size
            )
        })
        .collect();
    let body = format!(
        r#"{SCAN_WIDGET}<div class="card"><h2>开标大厅：{}</h2>
<table><tr><th>投标人</th><th>文件</th><th>大小</th><th>可解密人员</th><th>签章</th><th>解密自检</th><th>预授权</th><th>解密</th></tr>{rows}</table></div>
<script>window.onDone = () => setTimeout(() => location.reload(), 1500);
async function openPreauthorised(id) {{
  const r = await fetch('/api/bids/' + id + '/open-preauthorised', {{method: 'POST'}});
  const j = await r.json();
  setState(j.opened ? 'done' : 'failed', j.message_zh || j.error);
  document.getElementById('scan').style.display = 'block';
  if (j.opened) setTimeout(() => location.reload(), 1500);
}}
</script>"#,
        escape(&demo.tender.name)
    );
    respond(cookie, page(&demo, "开标大厅", &body))
}

/// 预授权开标, for the bidder: how to authorise, before the opening, the opening of each of
/// the enterprise's bids without a phone online at the opening (the wallet's action, with
/// the PIN, on the file as uploaded), and what the Bidkey server holds for each right now.
async fn preauth(State(demo): State<Arc<Demo>>, headers: HeaderMap) -> Response {
    let (sid, cookie) = browser(&headers);
    let Some(me) = super::api::bidder_of(&demo, &sid) else {
        let body = r#"<div class="card"><h2>预授权开标</h2><p>请先<a href="/login">扫码登录</a>，再查看贵单位的投标文件。</p></div>"#;
        return respond(cookie, page(&demo, "预授权开标", body));
    };
    let bids: Vec<_> = demo
        .lock()
        .bids
        .iter()
        .filter(|b| !b.document_only && b.bidder.uscc.is_some() && b.bidder.uscc == me.uscc)
        .cloned()
        .collect();
    let open = unix_now() < demo.tender.opening_at;
    let when = if open {
        format!(
            "{}（Unix 时间 {}）",
            crate::hall::fmt_time(demo.tender.opening_at),
            demo.tender.opening_at
        )
    } else {
        "开标已开始：不能再预授权，请在开标大厅扫码解密".to_owned()
    };
    let mut rows = String::new();
    for b in &bids {
        let row = demo.hall_row(b).await;
        rows.push_str(&format!(
            r#"<tr data-bid="{id}"><td>{file}</td><td>{k}</td><td><a href="/api/bids/{id}/file" download="{file}.bid">下载已上传的文件</a></td><td class="preauth-state" data-state="{state}">{words}</td></tr>"#,
            id = b.id,
            file = escape(&b.file_name),
            k = escape(&row.recipients_line.zh),
            state = row.preauth.state,
            words = escape(&row.preauth.zh),
        ));
    }
    let server = escape(demo.signed.base());
    let opening_at = demo.tender.opening_at;
    let body = format!(
        r#"<div class="card"><h2>预授权开标：{tender}</h2>
<p>开标时间：{when}</p>
<p>开标时手机没电、没有网络、授权人员不在场，投标文件也能按时解密：开标前，用 Bidkey 钱包输入证书密码，授权本平台在开标时间（以 Bidkey 服务器时间为准）之后解密<b>这一份</b>文件。</p>
<ol>
<li>在下表下载平台保存的这份文件（即上传的密文，与解密自检用的是同一份）。</li>
<li>在手机 Bidkey 钱包的「预授权开标」中选择该文件并输入证书密码；或在电脑上运行：<pre>bidkey --server {server} bid preauth --opening-at {opening_at} 文件名.bid</pre>
钱包先用证书密码协同解密出文件密钥并与文件头核对，再把密钥拆成两半：一半用本平台证书加密，一半交 Bidkey 服务器保管。开标前，服务器和平台任何一方单独都打不开文件。</li>
<li>多人联合解密（k-of-n）的文件：每位授权人员各自对自己的份额预授权；满 k 人后，开标时才能不经扫码解密。</li>
<li>开标前可随时撤回：<pre>bidkey bid preauths
bidkey bid withdraw 预授权编号</pre>服务器会记录每次释放，投标人可在钱包中查看。</li>
</ol>
<table><tr><th>文件</th><th>可解密人员</th><th>下载</th><th>预授权（Bidkey 服务器）</th></tr>{rows}</table>
<p>结果也显示在<a href="/opening">开标大厅</a>。</p></div>"#,
        tender = escape(&demo.tender.name),
    );
    respond(cookie, page(&demo, "预授权开标", &body))
}
