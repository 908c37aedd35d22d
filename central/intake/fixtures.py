"""Realistic and hostile intake inputs for tests, the benchmark and the demo (no network).

- A Government-Portal-like RSS 2.0 feed of Vietnamese articles and their article pages (menus,
  scripts, share buttons and footer around the article body, as news sites have them), and an
  Atom feed.
- Hostile inputs: a truncated feed, a feed in another encoding than it declares, scripts in
  titles, a feed larger than any bound, a slow (trickling) feed, a 50 MB article page, a
  redirect to another host.
- CAP 1.2 alerts (Alert, Update, Cancel, Test, expired) and their XML signatures: a signing
  identity made on the spot (RSA key and self-signed certificate), signed and tampered copies.

``install_portal(server, …)`` puts all of it on a ``FixtureServer`` and returns the URLs.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from central.intake.fixture_server import FixtureServer, Route

_TOPICS = [
    ("Thủ tướng chỉ đạo ứng phó bão số {n} tại các tỉnh ven biển miền Trung",
     "Thủ tướng Chính phủ yêu cầu các bộ, ngành và địa phương chủ động sơ tán người dân khỏi vùng nguy hiểm, "
     "bảo đảm an toàn cho tàu thuyền và khu neo đậu."),
    ("Hướng dẫn tiêm chủng mở rộng đợt {n} năm 2026 cho trẻ dưới 5 tuổi",
     "Bộ Y tế hướng dẫn các trạm y tế xã tổ chức tiêm chủng định kỳ; phụ huynh mang theo sổ tiêm chủng "
     "và theo dõi trẻ 30 phút sau tiêm."),
    ("Chính phủ ban hành Nghị định số {n}/2026/NĐ-CP về hỗ trợ nông dân chuyển đổi cây trồng",
     "Nghị định quy định mức hỗ trợ 1.500.000 đồng/ha cho hộ nông dân chuyển đổi sang cây trồng phù hợp "
     "với điều kiện hạn hán, xâm nhập mặn."),
    ("Cảnh báo lừa đảo qua mạng xã hội: người dân cần cảnh giác (bài {n})",
     "Công an khuyến cáo người dân không cung cấp mã OTP, không chuyển tiền cho người lạ tự xưng là cán bộ "
     "cơ quan nhà nước."),
    ("Lịch cắt điện khu vực nông thôn tuần thứ {n}",
     "Điện lực thông báo tạm ngừng cung cấp điện từ 7 giờ 30 đến 16 giờ 30 để bảo dưỡng đường dây "
     "trung thế."),
]

_PARAGRAPHS = [
    "Theo thông báo, các địa phương phải hoàn thành công tác chuẩn bị trước ngày {day}/{month}, "
    "báo cáo kết quả về Ủy ban nhân dân tỉnh.",
    "Ủy ban nhân dân các xã có trách nhiệm thông tin kịp thời trên hệ thống đài truyền thanh cơ sở "
    "để bà con nắm rõ và thực hiện.",
    "Người dân cần liên hệ trưởng thôn hoặc cán bộ văn hóa - xã hội của xã khi cần được hướng dẫn thêm.",
    "Trong năm qua, toàn tỉnh đã triển khai {n} mô hình điểm, giúp hơn 2.300 hộ gia đình cải thiện thu nhập.",
    "Cơ quan chức năng sẽ kiểm tra, giám sát việc thực hiện và xử lý nghiêm các trường hợp vi phạm.",
]


@dataclass(frozen=True)
class Article:
    slug: str
    title: str
    summary: str
    paragraphs: tuple[str, ...]
    published: datetime

    @property
    def body(self) -> str:
        return "\n".join(self.paragraphs)


def sample_articles(count: int, *, start: datetime | None = None, offset: int = 0) -> list[Article]:
    """``count`` distinct Vietnamese articles, newest first, one every 10 minutes before ``start``."""
    start = start or datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
    articles = []
    for i in range(offset, offset + count):
        title, summary = _TOPICS[i % len(_TOPICS)]
        n = i + 1
        paragraphs = tuple(p.format(n=n, day=1 + i % 28, month=1 + i % 12)
                           for p in (_PARAGRAPHS[i % 5], _PARAGRAPHS[(i + 1) % 5], _PARAGRAPHS[(i + 3) % 5]))
        articles.append(Article(slug=f"bai-{n:05d}", title=title.format(n=n), summary=summary,
                                paragraphs=(summary, *paragraphs), published=start - timedelta(minutes=10 * i)))
    return articles


def article_page(article: Article, *, site: str = "Cổng Thông tin điện tử Chính phủ") -> bytes:
    """An article page as a news site serves it: the article inside menus, scripts and footers."""
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in article.paragraphs)
    return f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>{html.escape(article.title)} - {site}</title>
<script>window.dataLayer = window.dataLayer || []; function gtag(){{dataLayer.push(arguments);}}</script>
<style>body {{ font-family: Arial; }}</style></head>
<body>
<header><nav><ul><li><a href="/">Trang chủ</a></li><li><a href="/chinh-sach">Chính sách</a></li>
<li><a href="/thoi-su">Thời sự</a></li><li><a href="/lien-he">Liên hệ</a></li></ul></nav></header>
<main><article>
<h1 class="detail-title">{html.escape(article.title)}</h1>
<div class="detail-time">{article.published:%d/%m/%Y %H:%M}</div>
<div class="detail-content">
{body}
</div>
<div class="share">Chia sẻ: Facebook | Zalo | In bài viết</div>
</article>
<aside><h3>Tin liên quan</h3><ul><li><a href="/x">Tin khác 1</a></li><li><a href="/y">Tin khác 2</a></li></ul></aside>
</main>
<footer>© {site}. Giấy phép số 99/GP-BTTTT. Địa chỉ: 16 Lê Hồng Phong, Ba Đình, Hà Nội.</footer>
<script>document.querySelectorAll('.share').forEach(e => e.remove());</script>
</body></html>""".encode()


def rss_feed(base_url: str, articles: list[Article], *, title: str = "Cổng Thông tin điện tử Chính phủ - Tin mới",
             encoding: str = "utf-8", path: str = "/tin/") -> bytes:
    items = []
    for a in articles:
        items.append(f"""<item>
<title>{html.escape(a.title)}</title>
<link>{base_url}{path}{a.slug}.htm</link>
<guid isPermaLink="false">portal-{a.slug}</guid>
<description><![CDATA[<p><img src="{base_url}/anh/{a.slug}.jpg"/></p>{html.escape(a.summary)}]]></description>
<pubDate>{format_datetime(a.published)}</pubDate>
</item>""")
    return (f"""<?xml version="1.0" encoding="{encoding}"?>
<rss version="2.0"><channel>
<title>{html.escape(title)}</title><link>{base_url}/</link><description>Tin tức</description><language>vi</language>
{"".join(items)}
</channel></rss>""").encode()


def atom_feed(base_url: str, articles: list[Article], *, title: str = "Bộ Y tế - Thông báo") -> bytes:
    entries = "".join(f"""<entry><title type="html">{html.escape(html.escape(a.title))}</title>
<id>tag:{base_url.split('//')[1]},2026:{a.slug}</id><link href="{base_url}/tin/{a.slug}.htm"/>
<updated>{a.published.isoformat()}</updated><summary>{html.escape(a.summary)}</summary></entry>""" for a in articles)
    return (f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>{html.escape(title)}</title><id>urn:fixture:atom</id>
<updated>2026-12-02T07:00:00Z</updated>{entries}</feed>""").encode()


# ---------------------------------------------------------------- hostile inputs

def truncated_feed(base_url: str) -> bytes:
    whole = rss_feed(base_url, sample_articles(3, offset=900))
    return whole[: len(whole) * 2 // 3]


def wrong_encoding_feed(base_url: str) -> bytes:
    """Declares UTF-8 but is Windows-1258 (the old Vietnamese code page)."""
    text = rss_feed(base_url, sample_articles(2, offset=910)).decode()
    return text.encode("cp1258", errors="replace")


def script_title_feed(base_url: str) -> bytes:
    a = sample_articles(1, offset=920)[0]
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Tin có mã độc</title><link>{base_url}/</link><description>x</description>
<item><title>&lt;script&gt;alert("xss")&lt;/script&gt;Thông báo &lt;b&gt;khẩn&lt;/b&gt; về &amp;lt;img src=x onerror=alert(1)&amp;gt;lịch họp</title>
<link>{base_url}/tin/{a.slug}.htm</link><guid>script-1</guid>
<description><![CDATA[<script>steal()</script><p onclick="x()">Nội dung <iframe src="http://evil.example/"></iframe>họp thôn.</p>]]></description>
<pubDate>{format_datetime(a.published)}</pubDate></item>
</channel></rss>""".encode()


# ---------------------------------------------------------------- CAP 1.2

CAP_SENDER = "canhbao@nchmf.gov.vn"


def cap_alert(identifier: str, *, sent: datetime, sender: str = CAP_SENDER, status: str = "Actual",
              msg_type: str = "Alert", references: tuple[tuple[str, str, datetime], ...] = (),
              expires: datetime | None = None, severity: str = "Extreme", urgency: str = "Immediate",
              headline: str = "Cảnh báo lũ quét và sạt lở đất khẩn cấp",
              description: str = "Mưa lớn kéo dài gây nguy cơ lũ quét, sạt lở đất tại các xã vùng núi.",
              instruction: str = "Người dân khẩn trương sơ tán khỏi khu vực ven suối, sườn đồi; không đi qua ngầm tràn.",
              communes: tuple[str, ...] = ("12345",), area: str = "Xã Thử Nghiệm, tỉnh Mẫu",
              provinces: tuple[str, ...] = ()) -> bytes:
    def t(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")

    refs = " ".join(f"{s},{i},{t(at)}" for s, i, at in references)
    geocodes = "".join(f"<geocode><valueName>province</valueName><value>{p}</value></geocode>" for p in provinces)
    geocodes += "".join(f"<geocode><valueName>commune</valueName><value>{c}</value></geocode>" for c in communes)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
<identifier>{identifier}</identifier><sender>{sender}</sender><sent>{t(sent)}</sent>
<status>{status}</status><msgType>{msg_type}</msgType><scope>Public</scope>
{f"<references>{refs}</references>" if refs else ""}
<info><language>vi-VN</language><category>Met</category><event>Lũ quét</event>
<urgency>{urgency}</urgency><severity>{severity}</severity><certainty>Observed</certainty>
<senderName>Trung tâm Dự báo khí tượng thủy văn quốc gia</senderName>
<headline>{html.escape(headline)}</headline><description>{html.escape(description)}</description>
<instruction>{html.escape(instruction)}</instruction>
{f"<expires>{t(expires)}</expires>" if expires else ""}
<area><areaDesc>{html.escape(area)}</areaDesc>{geocodes}</area></info>
</alert>""".encode()


@dataclass(frozen=True)
class SigningIdentity:
    key_pem: bytes
    cert_pem: str


def signing_identity(name: str = "NCHMF CAP signing (fixture)") -> SigningIdentity:
    """An RSA key and a self-signed certificate, made now (nothing secret is shipped)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return SigningIdentity(key_pem=key_pem, cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode())


def sign_cap(xml: bytes, identity: SigningIdentity) -> bytes:
    from lxml import etree
    from signxml import XMLSigner

    root = etree.fromstring(xml)
    signed = XMLSigner().sign(root, key=identity.key_pem, cert=identity.cert_pem)
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def tamper(signed: bytes) -> bytes:
    """The signed message with its headline changed after signing."""
    return signed.replace("Cảnh báo".encode(), b"Tin vui", 1)


def cap_index(base_url: str, paths: list[str]) -> bytes:
    """An Atom feed whose entries link to CAP messages (how alert services publish them)."""
    entries = "".join(f"""<entry><id>{base_url}{p}</id><title>CAP {p}</title><link href="{base_url}{p}"/>
<updated>2026-12-02T07:00:00Z</updated></entry>""" for p in paths)
    return (f"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>Cảnh báo thiên tai</title><id>urn:fixture:cap</id><updated>2026-12-02T07:00:00Z</updated>{entries}</feed>""").encode()


# ---------------------------------------------------------------- all of it on a server

@dataclass(frozen=True)
class PortalUrls:
    feed: str
    atom: str
    truncated: str
    wrong_encoding: str
    script_title: str
    huge_feed: str
    slow_feed: str
    redirect_feed: str
    huge_page_feed: str
    articles: tuple[Article, ...]


def install_portal(server: FixtureServer, *, articles: int = 5, huge_bytes: int = 50_000_000) -> PortalUrls:
    base = server.url
    items = sample_articles(articles)
    for a in items:
        server.route(f"/tin/{a.slug}.htm", Route(article_page(a), content_type="text/html; charset=utf-8"))
    feed = server.route("/rss/tin-moi.rss", Route(rss_feed(base, items)))
    atom_items = sample_articles(3, offset=700)
    for a in atom_items:
        server.route(f"/tin/{a.slug}.htm", Route(article_page(a), content_type="text/html; charset=utf-8"))
    atom = server.route("/atom/y-te.xml", Route(atom_feed(base, atom_items), content_type="application/atom+xml"))
    truncated = server.route("/hostile/truncated.rss", Route(truncated_feed(base)))
    wrong = server.route("/hostile/encoding.rss", Route(wrong_encoding_feed(base)))
    script = server.route("/hostile/script.rss", Route(script_title_feed(base)))
    huge = server.route("/hostile/huge.rss", Route(rss_feed(base, sample_articles(1, offset=930))[:-20],
                                                   endless_bytes=huge_bytes, conditional=False))
    slow = server.route("/hostile/slow.rss", Route(rss_feed(base, sample_articles(2, offset=940)),
                                                   trickle_bytes_per_s=200, conditional=False))
    other_host = f"http://localhost:{server.port}/rss/tin-moi.rss"
    redirect = server.route("/hostile/redirect.rss", Route(status=302, location=other_host))
    big = sample_articles(1, offset=950)[0]
    server.route(f"/lon/{big.slug}.htm", Route(article_page(big), content_type="text/html; charset=utf-8",
                                               endless_bytes=huge_bytes, conditional=False))
    huge_page = server.route("/hostile/huge-page.rss", Route(rss_feed(base, [big], path="/lon/")))
    return PortalUrls(feed=feed, atom=atom, truncated=truncated, wrong_encoding=wrong, script_title=script,
                      huge_feed=huge, slow_feed=slow, redirect_feed=redirect, huge_page_feed=huge_page,
                      articles=tuple(items))
