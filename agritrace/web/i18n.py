"""Vietnamese and English for the public pages: a small catalogue and the language choice.

No gettext toolchain: one dict per language, the same keys in both (a test checks it).
Templates call ``t(key, **values)``; a key missing from a language falls back to English,
then to the key itself. Values are inserted with :meth:`str.format` into plain text, and
Jinja escapes the result, so a name containing ``<`` stays text.

The language is, in order: ``?lang=vi|en`` (remembered in a ``lang`` cookie for a year),
the ``lang`` cookie, the browser's ``Accept-Language``, and Vietnamese.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, g, request

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "MESSAGES",
    "current_language",
    "format_date",
    "format_datetime",
    "format_number",
    "has_message",
    "init_app",
    "translate",
]

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

VI: dict[str, str] = {
    "site.name": "agritrace",
    "site.tagline": "Truy xuất nguồn gốc nông sản",
    "lang.switch": "English",
    "lang.switch_label": "Switch to English",
    "nav.home": "Cách kiểm tra tem",
    # verdicts
    "verdict.genuine": "Chính hãng",
    "verdict.recalled": "Đã thu hồi",
    "verdict.suspicious": "Đáng ngờ",
    "verdict.not_genuine": "Không chính hãng",
    "verdict.genuine.lead": "Tem thật, có chữ ký số hợp lệ của {host}.",
    "verdict.recalled.lead": "Lô hàng này đã bị thu hồi. Không sử dụng sản phẩm; "
    "hãy mang trả lại nơi bán.",
    "verdict.suspicious.lead": "Tem có chữ ký thật nhưng có dấu hiệu đã bị sao chép. "
    "Hãy kiểm tra kỹ sản phẩm và nơi bán.",
    "verdict.not_genuine.lead": "Tem này không phải tem thật của {host}.",
    "verdict.not_genuine.advice": "Đừng tin vào nguồn gốc ghi trên sản phẩm này. Nếu đã mua, "
    "hãy báo cho nơi bán.",
    "recall.reason": "Lý do thu hồi: {reason}",
    "recall.when": "Thu hồi lúc {time}.",
    # reasons
    "reason.malformed": "Đây không phải là một mã tem hợp lệ. Hãy quét lại mã QR trên tem.",
    "reason.wrong-issuer": "Tem này ghi địa chỉ của một đơn vị khác.",
    "reason.unknown-key": "Tem được ký bằng một khóa mà đơn vị phát hành chưa từng công bố.",
    "reason.bad-signature": "Chữ ký số trên tem không khớp: tem có thể là giả hoặc đã bị sửa.",
    "reason.unknown-serial": "Số sê-ri của tem này chưa bao giờ được cấp.",
    "reason.wrong-key": "Tem được ký bằng khóa khác với khóa đã dùng khi cấp lô tem này.",
    "reason.lot-recalled": "Lô hàng đã bị thu hồi.",
    "reason.many-scans": "Tem này đã được quét {count} lần, nhiều hơn một sản phẩm thật "
    "thường được quét (tối đa {limit}).",
    "reason.distant-places": "Tem này đã được quét ở hai nơi cách nhau hơn {km} km "
    "trong vòng {hours} giờ.",
    "caution.facility-suspended": "Cơ sở sản xuất hiện đang bị đình chỉ.",
    "caution.facility-suspended.reason": "Cơ sở sản xuất hiện đang bị đình chỉ: {reason}",
    "caution.no-valid-certificate": "Cơ sở không có chứng nhận còn hiệu lực vào ngày thu hoạch.",
    # sections
    "product.heading": "Sản phẩm",
    "product.lot": "Lô hàng",
    "product.harvest": "Ngày thu hoạch",
    "product.packed": "Ngày đóng gói",
    "product.origin": "Vùng trồng",
    "product.quantity": "Khối lượng lô",
    "product.gtin": "Mã GTIN",
    "facility.heading": "Cơ sở sản xuất",
    "facility.address": "Địa chỉ",
    "facility.suspended": "Đang bị đình chỉ",
    "certificate.heading": "Chứng nhận",
    "certificate.number": "Số chứng nhận",
    "certificate.issuer": "Tổ chức cấp",
    "certificate.validity": "Hiệu lực",
    "certificate.range": "{start} đến {end}",
    "certificate.valid_at_harvest": "Còn hiệu lực vào ngày thu hoạch",
    "certificate.invalid_at_harvest": "Không còn hiệu lực vào ngày thu hoạch",
    "certificate.none": "Cơ sở chưa có chứng nhận nào.",
    "journey.heading": "Hành trình",
    "journey.empty": "Chưa có bước nào được ghi.",
    "journey.ledger": "Sổ cái #{index}",
    "journey.ledger_label": "Đã ghi vào sổ cái, mục số {index}: xem bằng chứng",
    "journey.corrected": "Đã được đính chính: {reason}",
    "journey.no_time": "không rõ thời gian",
    "scans.heading": "Lượt quét",
    "scans.first_time": "Đây là lần quét đầu tiên của tem này.",
    "scans.summary": "Quét lần đầu lúc {time}. Đã quét {count} lần.",
    "scans.none": "Tem này chưa được quét lần nào.",
    "place.summary": "Chia sẻ vị trí gần đúng của bạn",
    "place.explain": "Chỉ lưu vị trí làm tròn (khoảng 11 km) để phát hiện tem bị sao chép. "
    "Không lưu gì khác về bạn.",
    "place.lat": "Vĩ độ",
    "place.lon": "Kinh độ",
    "place.submit": "Gửi vị trí",
    "place.locate": "Dùng vị trí của tôi",
    "place.saved": "Cảm ơn bạn, vị trí gần đúng đã được ghi nhận.",
    "stamp.code": "Mã tem",
    "stamp.checked": "Kiểm tra lúc {time}",
    "footer.verify": "Khóa công khai",
    "footer.checkpoint": "Sổ cái",
    "footer.about": "Tem được ký số Ed25519; mọi bước được ghi vào sổ cái có thể kiểm chứng.",
    # landing
    "landing.title": "Kiểm tra tem truy xuất nguồn gốc",
    "landing.lead": "Mỗi tem agritrace có một chữ ký số. Trang này cho bạn biết tem thật hay "
    "giả và sản phẩm đã đi qua những đâu.",
    "landing.step1": "Mở camera điện thoại và hướng vào mã QR trên tem.",
    "landing.step2": "Chạm vào đường dẫn hiện ra.",
    "landing.step3": "Xem kết quả ngay ở đầu trang: chính hãng, đã thu hồi, đáng ngờ "
    "hoặc không chính hãng.",
    "landing.form": "Hoặc nhập mã tem",
    "landing.code": "Mã tem (116 ký tự) hoặc đường dẫn",
    "landing.submit": "Kiểm tra",
    "landing.empty": "Hãy nhập mã tem hoặc đường dẫn trên tem.",
    "landing.too_long": "Nội dung quá dài để là một mã tem.",
    # steps
    "step.harvest": "Thu hoạch",
    "step.packing": "Đóng gói",
    "step.cooling": "Làm lạnh",
    "step.storing": "Lưu kho",
    "step.shipping": "Vận chuyển đi",
    "step.receiving": "Tiếp nhận",
    "step.processing": "Chế biến",
    "step.inspecting": "Kiểm tra",
    "step.registered": "Đăng ký lô hàng",
    "step.stamps-issued": "Cấp tem truy xuất",
    "step.recalled": "Thu hồi",
    "step.facility-registered": "Đăng ký cơ sở",
    "step.facility-suspended": "Đình chỉ cơ sở",
    "step.certified": "Cấp chứng nhận",
    "step.certificate-suspended": "Đình chỉ chứng nhận",
    "step.correction": "Đính chính",
    # detail keys
    "detail.stamps": "Số tem",
    "detail.reason": "Lý do",
    "detail.quantity": "Khối lượng",
    "detail.origin": "Vùng trồng",
    "detail.temperature": "Nhiệt độ",
    "detail.destination": "Nơi đến",
    "detail.source": "Nơi gửi",
    "detail.result": "Kết quả",
    # errors
    "error.title": "Có lỗi",
    "error.400": "Yêu cầu không hợp lệ.",
    "error.403": "Bạn không có quyền xem trang này.",
    "error.404": "Không tìm thấy trang này.",
    "error.405": "Phương thức này không được hỗ trợ ở đây.",
    "error.409": "Yêu cầu xung đột với dữ liệu hiện có.",
    "error.413": "Dữ liệu gửi lên quá lớn.",
    "error.422": "Dữ liệu nhập không hợp lệ.",
    "error.429": "Bạn đã gửi quá nhiều yêu cầu. Hãy thử lại sau {seconds} giây.",
    "error.500": "Máy chủ gặp sự cố. Hãy thử lại sau ít phút.",
    "error.503": "Dịch vụ tạm thời không khả dụng. Hãy thử lại sau ít phút.",
    "error.other": "Không thể xử lý yêu cầu.",
    "error.home": "Về trang kiểm tra tem",
}

EN: dict[str, str] = {
    "site.name": "agritrace",
    "site.tagline": "Farm produce traceability",
    "lang.switch": "Tiếng Việt",
    "lang.switch_label": "Chuyển sang tiếng Việt",
    "nav.home": "How to check a stamp",
    "verdict.genuine": "Genuine",
    "verdict.recalled": "Recalled",
    "verdict.suspicious": "Suspicious",
    "verdict.not_genuine": "Not genuine",
    "verdict.genuine.lead": "A real stamp, digitally signed by {host}.",
    "verdict.recalled.lead": "This lot has been recalled. Do not use the product; "
    "take it back to where you bought it.",
    "verdict.suspicious.lead": "The stamp's signature is real, but it shows signs of being "
    "copied. Check the product and the seller carefully.",
    "verdict.not_genuine.lead": "This is not a real stamp of {host}.",
    "verdict.not_genuine.advice": "Do not trust the origin claimed for this product. If you "
    "bought it, tell the seller.",
    "recall.reason": "Reason for the recall: {reason}",
    "recall.when": "Recalled on {time}.",
    "reason.malformed": "This is not a valid stamp code. Scan the QR code on the stamp again.",
    "reason.wrong-issuer": "This stamp names another issuer's address.",
    "reason.unknown-key": "The stamp was signed with a key the issuer never published.",
    "reason.bad-signature": "The stamp's digital signature does not match: it may be forged "
    "or altered.",
    "reason.unknown-serial": "This stamp's serial number was never issued.",
    "reason.wrong-key": "The stamp was signed with another key than its batch was issued under.",
    "reason.lot-recalled": "The lot has been recalled.",
    "reason.many-scans": "This stamp has been scanned {count} times, more than a real product "
    "is (at most {limit}).",
    "reason.distant-places": "This stamp was scanned in two places more than {km} km apart "
    "within {hours} hours.",
    "caution.facility-suspended": "The producing facility is currently suspended.",
    "caution.facility-suspended.reason": "The producing facility is currently suspended: {reason}",
    "caution.no-valid-certificate": "The facility held no valid certificate on the harvest date.",
    "product.heading": "Product",
    "product.lot": "Lot",
    "product.harvest": "Harvested",
    "product.packed": "Packed",
    "product.origin": "Growing area",
    "product.quantity": "Lot size",
    "product.gtin": "GTIN",
    "facility.heading": "Producer",
    "facility.address": "Address",
    "facility.suspended": "Suspended",
    "certificate.heading": "Certificate",
    "certificate.number": "Number",
    "certificate.issuer": "Issued by",
    "certificate.validity": "Valid",
    "certificate.range": "{start} to {end}",
    "certificate.valid_at_harvest": "Valid on the harvest date",
    "certificate.invalid_at_harvest": "Not valid on the harvest date",
    "certificate.none": "The facility holds no certificate.",
    "journey.heading": "Journey",
    "journey.empty": "No steps recorded yet.",
    "journey.ledger": "Ledger #{index}",
    "journey.ledger_label": "Recorded in ledger entry {index}: see the proof",
    "journey.corrected": "Corrected: {reason}",
    "journey.no_time": "time unknown",
    "scans.heading": "Scans",
    "scans.first_time": "This is the first scan of this stamp.",
    "scans.summary": "First scanned on {time}. Scanned {count} times.",
    "scans.none": "This stamp has not been scanned yet.",
    "place.summary": "Share your approximate place",
    "place.explain": "Only a rounded place (about 11 km) is kept, to detect copied stamps. "
    "Nothing else about you is stored.",
    "place.lat": "Latitude",
    "place.lon": "Longitude",
    "place.submit": "Send place",
    "place.locate": "Use my location",
    "place.saved": "Thank you, your approximate place was recorded.",
    "stamp.code": "Stamp code",
    "stamp.checked": "Checked at {time}",
    "footer.verify": "Public keys",
    "footer.checkpoint": "Ledger",
    "footer.about": "Stamps carry Ed25519 signatures; every step is written to a verifiable "
    "ledger.",
    "landing.title": "Check a traceability stamp",
    "landing.lead": "Every agritrace stamp carries a digital signature. This site tells you "
    "whether a stamp is real and where the product has been.",
    "landing.step1": "Open your phone's camera and point it at the QR code on the stamp.",
    "landing.step2": "Tap the link that appears.",
    "landing.step3": "Read the result at the top of the page: genuine, recalled, suspicious "
    "or not genuine.",
    "landing.form": "Or type the stamp code",
    "landing.code": "Stamp code (116 characters) or link",
    "landing.submit": "Check",
    "landing.empty": "Enter the stamp code or the link on the stamp.",
    "landing.too_long": "That is too long to be a stamp code.",
    "step.harvest": "Harvested",
    "step.packing": "Packed",
    "step.cooling": "Cooled",
    "step.storing": "Stored",
    "step.shipping": "Shipped",
    "step.receiving": "Received",
    "step.processing": "Processed",
    "step.inspecting": "Inspected",
    "step.registered": "Lot registered",
    "step.stamps-issued": "Stamps issued",
    "step.recalled": "Recalled",
    "step.facility-registered": "Facility registered",
    "step.facility-suspended": "Facility suspended",
    "step.certified": "Certified",
    "step.certificate-suspended": "Certificate suspended",
    "step.correction": "Correction",
    "detail.stamps": "Stamps",
    "detail.reason": "Reason",
    "detail.quantity": "Quantity",
    "detail.origin": "Growing area",
    "detail.temperature": "Temperature",
    "detail.destination": "To",
    "detail.source": "From",
    "detail.result": "Result",
    "error.title": "Something went wrong",
    "error.400": "The request is not valid.",
    "error.403": "You may not see this page.",
    "error.404": "This page does not exist.",
    "error.405": "This method is not allowed here.",
    "error.409": "The request conflicts with the current data.",
    "error.413": "What was sent is too large.",
    "error.422": "The input is not valid.",
    "error.429": "Too many requests. Try again in {seconds} seconds.",
    "error.500": "The server ran into a problem. Try again in a few minutes.",
    "error.503": "The service is temporarily unavailable. Try again in a few minutes.",
    "error.other": "The request could not be handled.",
    "error.home": "Back to checking a stamp",
}

MESSAGES: dict[str, dict[str, str]] = {"vi": VI, "en": EN}


def translate(lang: str, key: str, **values: Any) -> str:
    """The message ``key`` in ``lang`` with ``values`` filled in (plain text)."""
    template = MESSAGES.get(lang, EN).get(key) or EN.get(key) or key
    if not values:
        return template
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template


def has_message(key: str) -> bool:
    """True if the catalogue defines ``key`` (in English, which every language falls back to)."""
    return key in EN


def _supported(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = raw.strip().lower()[:8]
    return value if value in LANGUAGES else None


def current_language() -> str:
    """The language of the current request (works in error handlers too)."""
    cached = g.get("lang")
    if isinstance(cached, str):
        return cached
    lang = (
        _supported(request.args.get("lang"))
        or _supported(request.cookies.get(LANG_COOKIE))
        or request.accept_languages.best_match(LANGUAGES)
        or DEFAULT_LANGUAGE
    )
    g.lang = lang
    return lang


def format_number(value: int, lang: str) -> str:
    text = f"{value:,}"
    return text.replace(",", ".") if lang == "vi" else text


def format_date(day: dt.date, lang: str) -> str:
    if lang == "vi":
        return f"{day.day:02d}/{day.month:02d}/{day.year}"
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def format_datetime(moment: dt.datetime, lang: str, zone: ZoneInfo) -> str:
    """A time in the viewer's zone: ``10:05, 20/11/2026`` or ``20 Nov 2026, 10:05``."""
    local = moment.astimezone(zone)
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if lang == "vi":
        return f"{clock}, {format_date(local.date(), lang)}"
    return f"{format_date(local.date(), lang)}, {clock}"


def _remember_choice(response: Response) -> Response:
    chosen = _supported(request.args.get("lang"))
    if chosen is not None and request.cookies.get(LANG_COOKIE) != chosen:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=LANG_COOKIE_MAX_AGE_S,
            samesite="Lax",
            httponly=True,
            secure=request.is_secure,
        )
    response.vary.add("Accept-Language")
    response.vary.add("Cookie")
    return response


def init_app(app: Flask, zone: ZoneInfo) -> None:
    """Give templates ``t``, ``lang``, ``other_lang`` and the formatters; remember a
    language chosen with ``?lang=``."""

    def when(moment: dt.datetime | None) -> str:
        if moment is None or moment.year <= 1:
            return translate(current_language(), "journey.no_time")
        return format_datetime(moment, current_language(), zone)

    @app.context_processor
    def _helpers() -> dict[str, Any]:
        lang = current_language()
        return {
            "lang": lang,
            "other_lang": "en" if lang == "vi" else "vi",
            "t": lambda key, **values: translate(lang, key, **values),
            "when": when,
            "day": lambda d: format_date(d, lang),
            "number": lambda n: format_number(n, lang),
            "has_message": has_message,
            "label": lambda group, slug: (
                translate(lang, f"{group}.{slug}") if has_message(f"{group}.{slug}") else slug
            ),
        }

    app.after_request(_remember_choice)
