"""Vietnamese and English for the public pages: a small catalogue and the language choice.

No gettext toolchain: one dict per language, the same keys in both (a test checks it).
Templates call ``t(key, **values)``; a key missing from a language falls back to English,
then to the key itself. Values are inserted with :meth:`str.format` into plain text, and
Jinja escapes the result, so a name containing ``<`` stays text.

Service errors raised with a message key (:class:`~agritrace.errors.AgritraceError`) are
shown with :func:`error_message` (templates: ``error_text(error)``): the key's text in the
page's language (``err.<key>``: English from :mod:`agritrace.messages`, Vietnamese from
:mod:`agritrace.web.i18n_errors`) filled in with the error's facts, the field it names and
its dates in that language too. An error without a key keeps its English message.

The language is, in order: ``?lang=vi|en`` (remembered in a ``lang`` cookie for a year),
the ``lang`` cookie, the browser's ``Accept-Language``, and Vietnamese.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, g, request

from agritrace.errors import AgritraceError
from agritrace.messages import ERROR_MESSAGES
from agritrace.web.i18n_errors import ERRORS_VI, FIELDS_VI

__all__ = [
    "DEFAULT_LANGUAGE",
    "FIELD_NAMES",
    "LANGUAGES",
    "MESSAGES",
    "current_language",
    "error_language",
    "error_message",
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
    "reason.review-confirmed": "Cơ quan kiểm tra hoặc cơ sở sản xuất đã xem xét và xác nhận "
    "tem này đáng ngờ: {reason}",
    "reason.claimed-twice": "Mã xác nhận dưới lớp cào của tem này đã được dùng bởi hai người "
    "khác nhau: một trong hai sản phẩm là hàng sao chép. Tem đã được báo để xem xét.",
    "notes.heading": "Ghi chú (không ảnh hưởng kết quả)",
    "note.many-scans": "Tem này đã được {count} thiết bị khác nhau quét (mỗi thiết bị chỉ tính "
    "một lần mỗi ngày), nhiều hơn một sản phẩm thường được quét (tối đa {limit}). Đây chỉ là "
    "ghi chú: tem sẽ được xem xét.",
    "note.distant-places": "Nhiều người khác nhau đã báo tem này ở hai nơi cách nhau hơn {km} "
    "km trong vòng {hours} giờ. Đây chỉ là ghi chú: tem sẽ được xem xét.",
    "review.cleared": "Đã được xem xét: {reason}",
    "claim.heading": "Mã xác nhận (dưới lớp cào)",
    "claim.explain": "Sau khi mua, hãy cào lớp phủ trên tem và nhập mã 10 chữ số để xác nhận "
    "sản phẩm là của bạn. Người quét sau sẽ thấy sản phẩm đã được xác nhận.",
    "claim.code": "Mã xác nhận",
    "claim.province": "Tỉnh, thành phố (không bắt buộc)",
    "claim.province_none": "Không nêu",
    "claim.submit": "Xác nhận sản phẩm",
    "claim.claimed": "Sản phẩm mang tem này đã được xác nhận ngày {day}{where}.",
    "claim.where": ", tại {province}",
    "claim.intact": "Nếu lớp cào trên sản phẩm của bạn còn nguyên, sản phẩm này là hàng sao "
    "chép: đừng mua và hãy báo cho nơi bán.",
    "claim.outcome.claimed": "Cảm ơn bạn: sản phẩm đã được xác nhận là của bạn.",
    "claim.outcome.yours": "Bạn đã xác nhận sản phẩm này trước đây.",
    "claim.outcome.clone": "Mã này đã được người khác dùng trước bạn: một trong hai sản phẩm là "
    "hàng sao chép. Tem đã được báo để xem xét.",
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
    # signed-in pages (portal, inspector console, administration)
    "nav.label": "Điều hướng",
    "nav.portal": "Lô hàng",
    "nav.record": "Ghi sự kiện",
    "nav.scans": "Lượt quét",
    "nav.flagged": "Tem cần xem xét",
    "review.explain": "Tem có dấu hiệu (nhiều thiết bị quét, nhiều người báo ở hai nơi xa nhau, "
    "mã xác nhận bị dùng hai lần) cần được xem xét. Xác nhận làm tem hiện Đáng ngờ với lý do "
    "của bạn; gỡ bỏ làm các dấu hiệu không còn được nêu. Mỗi quyết định được ghi vào sổ cái.",
    "review.signals": "Dấu hiệu",
    "review.signal.many-scans": "nhiều thiết bị quét",
    "review.signal.claimed-twice": "mã xác nhận dùng hai lần",
    "review.signal.claimed": "đã xác nhận",
    "review.pending": "Chờ xem xét",
    "review.decide": "Quyết định",
    "review.decision.confirmed": "Xác nhận đáng ngờ",
    "review.decision.cleared": "Gỡ bỏ",
    "review.reason": "Lý do",
    "review.submit": "Ghi quyết định",
    "nav.ledger": "Sổ cái",
    "nav.facilities": "Cơ sở",
    "nav.lots": "Các lô",
    "nav.dashboard": "Thống kê",
    "nav.admin": "Quản trị",
    "nav.sign_out": "Đăng xuất",
    "nav.next_page": "Trang sau",
    "signin.title": "Đăng nhập",
    "signin.username": "Tên đăng nhập",
    "signin.password": "Mật khẩu",
    "signin.submit": "Đăng nhập",
    "account.title": "Tài khoản",
    "account.tokens": "Khóa API",
    "account.tokens_hint": "Khóa API cho phép hệ thống khác dùng /api/v1 với quyền của bạn.",
    "account.token_once": "Khóa mới chỉ hiện một lần. Hãy sao chép và cất giữ an toàn:",
    "account.token_name": "Tên khóa",
    "account.token_days": "Hiệu lực (số ngày, tối đa {max})",
    "account.create_token": "Tạo khóa",
    "account.revoke": "Thu hồi",
    "role.operator": "Người vận hành cơ sở",
    "role.inspector": "Thanh tra",
    "role.admin": "Quản trị viên",
    "status.active": "Đang hoạt động",
    "status.suspended": "Bị đình chỉ",
    "status.recalled": "Đã thu hồi",
    "status.revoked": "Đã thu hồi",
    "status.expired": "Đã hết hạn",
    "status.corrected": "Đã đính chính",
    "list.empty": "Chưa có gì.",
    "form.error": "Chưa lưu được:",
    "form.reason": "Lý do",
    "form.certified": "Có chứng nhận (dùng chứng nhận còn hiệu lực của cơ sở)",
    "form.failed": "Kiểm tra không đạt",
    "form.record": "Ghi vào sổ cái",
    "form.inputs": "Lô đầu vào",
    "form.outputs": "Lô đầu ra",
    "form.from": "Từ ngày",
    "form.to": "Đến ngày",
    "hint.code": "Chữ, số, '.', '_' hoặc '-'.",
    "hint.lot": "Mã lô của cơ sở, hoặc CƠ-SỞ/LÔ cho lô đang chuyển đến.",
    "hint.whole_lot": "Để trống: cả lô.",
    "hint.destination": "Bắt buộc khi vận chuyển đi.",
    "hint.amounts": "Mỗi dòng một lô: CƠ-SỞ/LÔ=2000 kg",
    "col.lot": "Lô",
    "col.product": "Sản phẩm",
    "col.units": "Số đơn vị",
    "col.quantity": "Khối lượng",
    "col.unit": "Đơn vị",
    "col.harvest": "Thu hoạch",
    "col.packed": "Đóng gói",
    "col.origin": "Vùng trồng",
    "col.latitude": "Vĩ độ",
    "col.longitude": "Kinh độ",
    "col.status": "Trạng thái",
    "col.serial": "Số sê-ri",
    "col.serials": "Dải sê-ri",
    "col.count": "Số lượng",
    "col.created": "Tạo lúc",
    "col.downloads": "Tải về",
    "col.ledger": "Sổ cái",
    "col.step": "Công đoạn",
    "col.time": "Thời gian",
    "col.facility": "Cơ sở",
    "col.destination": "Nơi nhận",
    "col.temperature": "Nhiệt độ (°C)",
    "col.note": "Ghi chú",
    "col.first_scan": "Quét lần đầu",
    "col.last_scan": "Quét gần nhất",
    "col.token": "Khóa",
    "col.last_used": "Dùng gần nhất",
    "col.type": "Loại",
    "col.name": "Tên",
    "col.certificates": "Chứng nhận",
    "col.province": "Tỉnh",
    "col.address": "Địa chỉ",
    "col.scheme": "Loại chứng nhận",
    "col.number": "Số",
    "col.issuer": "Đơn vị cấp",
    "col.valid_from": "Hiệu lực từ",
    "col.valid_to": "Hiệu lực đến",
    "col.scope": "Phạm vi",
    "col.category": "Nhóm",
    "col.role": "Vai trò",
    "col.day": "Ngày",
    "portal.new_lot": "Tạo lô mới",
    "portal.create_lot": "Tạo lô",
    "portal.processing": "Chế biến",
    "portal.incoming": "Hàng đang chuyển đến",
    "portal.receive": "Ghi tiếp nhận",
    "portal.lots": "Các lô của cơ sở",
    "portal.suspicious": "Tem đáng ngờ",
    "portal.claim_codes": "Có mã xác nhận dưới lớp cào",
    "portal.with_claim_codes": "có mã xác nhận",
    "portal.scanned_times": "quét {count} lần",
    "portal.recorded": "Đã ghi vào sổ cái, mục #{index}.",
    "portal.batches": "Lô tem",
    "portal.issued_of": "Đã cấp {issued} / {units} tem.",
    "portal.stamp_count": "Số tem",
    "portal.issue": "Cấp tem",
    "portal.events": "Sự kiện",
    "portal.correct": "Đính chính",
    "portal.recorded_by": "Ghi nhận bởi cơ sở {facility}.",
    "portal.distant": "quét ở hai nơi xa nhau",
    "inspect.title": "Sổ cái",
    "inspect.origin": "Nguồn",
    "inspect.size": "Số mục",
    "inspect.latest_checkpoint": "Điểm kiểm tra mới nhất",
    "inspect.checkpoint_at": "{size} mục",
    "inspect.last_audit": "Lần kiểm toán gần nhất",
    "inspect.intact": "Nguyên vẹn",
    "inspect.not_intact": "KHÔNG nguyên vẹn",
    "inspect.details": "Chi tiết",
    "inspect.never": "Chưa kiểm toán",
    "inspect.audit_running": "Đang kiểm toán…",
    "inspect.run_audit": "Kiểm toán toàn bộ sổ cái",
    "inspect.tools": "Công cụ",
    "inspect.entries": "Các mục sổ cái",
    "inspect.consistency": "Kiểm tra tính nhất quán của hai điểm kiểm tra",
    "inspect.exports": "Xuất dữ liệu",
    "inspect.exports_hint": "Bảng FSMA 204 của mọi lô trong một khoảng ngày.",
    "inspect.audit": "Kiểm toán",
    "inspect.started": "Bắt đầu bởi {who}",
    "inspect.audit_progress": "Đã kiểm tra {done} / {total} mục…",
    "inspect.audit_ok": "Đã kiểm chứng {entries} mục và {checkpoints} điểm kiểm tra đã ký.",
    "inspect.audit_detail": "Chi tiết kỹ thuật (các giá trị băm khác nhau)",
    "audit.problem.missing": "Mục #{index} bị mất: không có bản ghi nào ở vị trí này.",
    "audit.problem.leaf": "Nội dung của mục #{index} đã bị sửa: nó không còn khớp với giá trị "
    "băm đã ghi.",
    "audit.problem.chain": "Chuỗi băm bị đứt ở mục #{index}.",
    "audit.problem.node": "Một nút của cây Merkle phủ mục #{index} bị mất hoặc bị sửa.",
    "audit.problem.extra-nodes": "Có nút cây Merkle thừa sau mục cuối cùng (#{index}).",
    "audit.problem.checkpoint-signature": "Một điểm kiểm tra không có chữ ký hợp lệ của khóa sổ "
    "cái (mục #{index} trở đi).",
    "audit.problem.checkpoint-row": "Một điểm kiểm tra đã lưu khác với nội dung đã ký của nó "
    "(mục #{index} trở đi).",
    "audit.problem.checkpoint-root": "Gốc Merkle đã ký của một điểm kiểm tra khác với gốc tính "
    "lại từ các mục (mục #{index} trở đi).",
    "audit.problem.checkpoint-size": "Có điểm kiểm tra cho nhiều mục hơn số mục đang lưu (mục "
    "#{index} trở đi).",
    "audit.problem.size": "Số mục đã lưu khác với kích thước sổ cái ghi ở đầu (từ mục #{index}).",
    "audit.problem.head": "Bản ghi đầu sổ cái (gốc hoặc chuỗi băm) khác với giá trị tính lại "
    "(mục #{index}).",
    "audit.problem.error": "Không chạy được kiểm toán: nhật ký máy chủ có chi tiết.",
    "inspect.first_bad": "Mục sai đầu tiên:",
    "inspect.entry": "Mục #{index}",
    "inspect.leaf_hash": "Băm lá",
    "inspect.chain_hash": "Băm chuỗi",
    "inspect.check_inclusion": "Kiểm tra bằng chứng có mặt",
    "inspect.checkpoint": "Điểm kiểm tra",
    "inspect.verify": "Kiểm tra",
    "inspect.no_checkpoint": "Chưa có điểm kiểm tra nào bao gồm mục này.",
    "inspect.proof_ok": "Bằng chứng hợp lệ",
    "inspect.proof_bad": "Bằng chứng KHÔNG hợp lệ",
    "inspect.consistent": "Nhất quán",
    "inspect.step_checkpoint": "Điểm kiểm tra {size} mục, chữ ký đã xác minh bằng khóa công khai",
    "inspect.signed_by": "ký bởi {names}",
    "inspect.step_leaf": "Băm lá của mục #{index}",
    "inspect.step_hash_left": "Ghép với băm bên trái",
    "inspect.step_hash_right": "Ghép với băm bên phải",
    "inspect.step_root": "Kết quả bằng gốc đã ký",
    "inspect.step_proof": "Bằng chứng nhất quán ({count} băm)",
    "inspect.old": "Cũ",
    "inspect.new": "Mới",
    "inspect.suspend_facility": "Đình chỉ cơ sở",
    "inspect.suspend_certificate": "Đình chỉ chứng nhận",
    "inspect.recall": "Thu hồi lô",
    "inspect.downstream": "Thu hồi kéo theo:",
    "inspect.bundle": "Gói bằng chứng",
    "cert.valid": "Còn hiệu lực",
    "cert.not_valid": "Hết hiệu lực",
    "dash.since": "Từ {since} ({days} ngày)",
    "dash.issued": "Tem được cấp mỗi ngày",
    "dash.scanned": "Tem được quét lần đầu mỗi ngày",
    "dash.table": "Bảng số liệu",
    "admin.saved": "Đã lưu.",
    "admin.add": "Thêm",
    "admin.add_facility": "Thêm cơ sở",
    "admin.certify": "Thêm chứng nhận",
    "admin.products": "Sản phẩm",
    "admin.add_product": "Thêm sản phẩm",
    "admin.users": "Người dùng và vai trò",
    "admin.add_user": "Thêm người dùng",
    "admin.change": "Thay đổi",
    "admin.save": "Lưu",
    "admin.inactive": "Đã khóa",
    "admin.locked": "Tạm khóa (đăng nhập sai)",
    "admin.keys": "Khóa ký",
    "admin.purpose": "Mục đích",
    "admin.rotate": "Thay khóa",
    "admin.rotate_hint": "Khóa cũ được giữ lại để xác minh tem và điểm kiểm tra đã ký.",
    "admin.tokens": "Khóa API của người dùng",
    "admin.all_tokens": "Xem và thu hồi khóa API của mọi người dùng",
    "admin.tokens_hint": "Mỗi khóa API dùng /api/v1 với vai trò và cơ sở hiện tại của người sở "
    "hữu, và thôi hoạt động khi bị thu hồi hoặc khi tài khoản bị khóa. Khóa bí mật không được "
    "lưu và không bao giờ hiện ở đây: chỉ có vài ký tự đầu để nhận ra khóa.",
    "admin.never_expires": "Không hết hạn",
    "admin.revoked_at": "Đã thu hồi lúc {time}",
    "admin.revoked_by": "bởi {user}",
    "admin.revoke_reason": "Lý do",
    "admin.revoke_reason_was": "Lý do: {reason}",
    "admin.owner_inactive": "Không dùng được: tài khoản đã bị khóa",
    "admin.token_revoked": "Đã thu hồi khóa API #{id}.",
    "admin.revoke_label": "Thu hồi khóa {name} của {user}",
    "col.owner": "Người sở hữu",
    "col.acts_as": "Quyền (vai trò · cơ sở)",
    "col.expires": "Hết hạn",
    "error.401": "Bạn cần đăng nhập.",
    # ledger entry page
    "entry.title": "Mục sổ cái #{index}",
    "entry.back": "Quay lại trang tem",
    "entry.verified_short": "Đã kiểm chứng: mục này nằm trong sổ cái đã ký",
    "entry.verified": "Máy chủ đã kiểm tra chữ ký của điểm kiểm tra ({size} mục) bằng khóa "
    "công khai, rồi kiểm tra bằng chứng có mặt (RFC 9162): từ băm lá của mục này, các băm "
    "bằng chứng dẫn tới đúng băm gốc đã ký.",
    "entry.not_verified": "Bằng chứng KHÔNG hợp lệ",
    "entry.not_covered": "Chưa có điểm kiểm tra đã ký nào bao gồm mục này; bằng chứng sẽ có "
    "sau lần ký tiếp theo.",
    "entry.record": "Nội dung được ghi",
    "entry.corrects": "Đính chính mục",
    "entry.raw": "Bản ghi gốc (JSON chuẩn hóa, đúng từng byte đã được băm)",
    "entry.proof": "Bằng chứng",
    "entry.index": "Số thứ tự trong sổ cái",
    "entry.recorded_at": "Ghi vào sổ cái lúc",
    "entry.leaf_hash": "Băm lá (SHA-256)",
    "entry.checkpoint": "Điểm kiểm tra đã ký dùng để kiểm chứng",
    "entry.origin": "Nguồn",
    "entry.size": "Số mục",
    "entry.root": "Băm gốc",
    "entry.signed_by": "Ký bởi",
    "entry.proof_hashes": "Các băm của bằng chứng ({count})",
    "entry.proof_empty": "Không cần băm nào: sổ cái khi đó chỉ có một mục.",
    "entry.note": "Văn bản đã ký của điểm kiểm tra",
    "entry.verify_yourself": "Tự kiểm chứng",
    "entry.json": "Mục này dạng JSON",
    "entry.bundle": "Tải gói bằng chứng (kiểm chứng ngoại tuyến)",
    "entry.latest_checkpoint": "Điểm kiểm tra mới nhất",
    "entry.offline": "Kiểm chứng ngoại tuyến chỉ với khóa công khai:",
    "entry.private": "Chi tiết riêng",
    "entry.private_hidden": "Các chi tiết thương mại của mục này (đối tác, số lượng, nhiệt độ, "
    "ghi chú) là riêng tư: sổ cái công khai chỉ giữ cam kết băm SHA-256 có muối của chúng. "
    "Chỉ các cơ sở liên quan, thanh tra viên và quản trị viên được xem.",
    "entry.private_verified": "Đã kiểm chứng với cam kết: các giá trị dưới đây khớp với cam kết "
    "trong mục sổ cái",
    "entry.bundle_shared": "Tải gói bằng chứng kèm chi tiết riêng (để chia sẻ)",
    "detail.lot": "Lô hàng",
    "detail.product": "Sản phẩm",
    "detail.certificate": "Chứng nhận",
    "detail.validity": "Hiệu lực",
    "detail.serials": "Dải sê-ri",
    "detail.cascade": "Thu hồi kéo theo",
    "detail.to": "Nơi đến",
    "detail.from": "Nơi gửi",
    "detail.note": "Ghi chú",
    "detail.inputs": "Lô đầu vào",
    "detail.outputs": "Lô đầu ra",
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
    "reason.review-confirmed": "An inspector or the producer reviewed this stamp and "
    "confirmed it is suspicious: {reason}",
    "reason.claimed-twice": "The claim code under this stamp's scratch-off layer was entered "
    "by two different people: one of the two items is a copy. The stamp is flagged for review.",
    "notes.heading": "Notes (they do not change the verdict)",
    "note.many-scans": "{count} different devices have scanned this stamp (each counted once "
    "a day), more than a product usually is (at most {limit}). This is only a note: the "
    "stamp will be reviewed.",
    "note.distant-places": "Several different people reported this stamp in two places more "
    "than {km} km apart within {hours} hours. This is only a note: the stamp will be reviewed.",
    "review.cleared": "Reviewed: {reason}",
    "claim.heading": "Claim code (under the scratch-off)",
    "claim.explain": "After buying, scratch off the layer on the stamp and enter its 10-digit "
    "code to claim the item as yours. Later scans will show that the item was claimed.",
    "claim.code": "Claim code",
    "claim.province": "Province or city (optional)",
    "claim.province_none": "Not given",
    "claim.submit": "Claim this item",
    "claim.claimed": "The item with this stamp was claimed on {day}{where}.",
    "claim.where": ", in {province}",
    "claim.intact": "If the scratch-off layer on your item is intact, your item is a copy: "
    "do not buy it, and tell the seller.",
    "claim.outcome.claimed": "Thank you: the item is now claimed as yours.",
    "claim.outcome.yours": "You claimed this item before.",
    "claim.outcome.clone": "This code was used by someone else before you: one of the two "
    "items is a copy. The stamp is flagged for review.",
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
    # signed-in pages (portal, inspector console, administration)
    "nav.label": "Navigation",
    "nav.portal": "Lots",
    "nav.record": "Record an event",
    "nav.scans": "Scans",
    "nav.flagged": "Flagged stamps",
    "review.explain": "Stamps with signals (many devices, places far apart reported by "
    "several people, a claim code used twice) wait for review. Confirming shows the stamp as "
    "Suspicious with your reason; clearing stops its signals from counting against it. Each "
    "decision is recorded in the ledger.",
    "review.signals": "Signals",
    "review.signal.many-scans": "many devices",
    "review.signal.claimed-twice": "claim code used twice",
    "review.signal.claimed": "claimed",
    "review.pending": "Awaiting review",
    "review.decide": "Decision",
    "review.decision.confirmed": "Confirm suspicious",
    "review.decision.cleared": "Clear",
    "review.reason": "Reason",
    "review.submit": "Record decision",
    "nav.ledger": "Ledger",
    "nav.facilities": "Facilities",
    "nav.lots": "Lots",
    "nav.dashboard": "Dashboard",
    "nav.admin": "Administration",
    "nav.sign_out": "Sign out",
    "nav.next_page": "Next page",
    "signin.title": "Sign in",
    "signin.username": "Username",
    "signin.password": "Password",
    "signin.submit": "Sign in",
    "account.title": "Account",
    "account.tokens": "API tokens",
    "account.tokens_hint": "An API token lets another system use /api/v1 with your rights.",
    "account.token_once": "The new token is shown only this once. Copy it and keep it safe:",
    "account.token_name": "Token name",
    "account.token_days": "Valid for (days, at most {max})",
    "account.create_token": "Create token",
    "account.revoke": "Revoke",
    "role.operator": "Facility operator",
    "role.inspector": "Inspector",
    "role.admin": "Administrator",
    "status.active": "Active",
    "status.suspended": "Suspended",
    "status.recalled": "Recalled",
    "status.revoked": "Revoked",
    "status.expired": "Expired",
    "status.corrected": "Corrected",
    "list.empty": "Nothing yet.",
    "form.error": "Not saved:",
    "form.reason": "Reason",
    "form.certified": "Certified (claims a valid certificate of the facility)",
    "form.failed": "Inspection failed",
    "form.record": "Record in the ledger",
    "form.inputs": "Input lots",
    "form.outputs": "Output lots",
    "form.from": "From",
    "form.to": "To",
    "hint.code": "Letters, digits, '.', '_' or '-'.",
    "hint.lot": "A lot code of this facility, or FACILITY/LOT for a lot shipped to you.",
    "hint.whole_lot": "Empty: the whole lot.",
    "hint.destination": "Required for shipping.",
    "hint.amounts": "One lot per line: FACILITY/LOT=2000 kg",
    "col.lot": "Lot",
    "col.product": "Product",
    "col.units": "Units",
    "col.quantity": "Quantity",
    "col.unit": "Unit",
    "col.harvest": "Harvest",
    "col.packed": "Packed",
    "col.origin": "Origin area",
    "col.latitude": "Latitude",
    "col.longitude": "Longitude",
    "col.status": "Status",
    "col.serial": "Serial",
    "col.serials": "Serials",
    "col.count": "Count",
    "col.created": "Created",
    "col.downloads": "Downloads",
    "col.ledger": "Ledger",
    "col.step": "Step",
    "col.time": "Time",
    "col.facility": "Facility",
    "col.destination": "Destination",
    "col.temperature": "Temperature (°C)",
    "col.note": "Note",
    "col.first_scan": "First scan",
    "col.last_scan": "Last scan",
    "col.token": "Token",
    "col.last_used": "Last used",
    "col.type": "Type",
    "col.name": "Name",
    "col.certificates": "Certificates",
    "col.province": "Province",
    "col.address": "Address",
    "col.scheme": "Scheme",
    "col.number": "Number",
    "col.issuer": "Issuer",
    "col.valid_from": "Valid from",
    "col.valid_to": "Valid to",
    "col.scope": "Scope",
    "col.category": "Category",
    "col.role": "Role",
    "col.day": "Day",
    "portal.new_lot": "New lot",
    "portal.create_lot": "Create lot",
    "portal.processing": "Processing",
    "portal.incoming": "Shipments on their way to you",
    "portal.receive": "Record receiving",
    "portal.lots": "Lots of this facility",
    "portal.suspicious": "Suspicious stamps",
    "portal.claim_codes": "With claim codes under a scratch-off layer",
    "portal.with_claim_codes": "with claim codes",
    "portal.scanned_times": "scanned {count} times",
    "portal.recorded": "Recorded in the ledger as entry #{index}.",
    "portal.batches": "Stamp batches",
    "portal.issued_of": "{issued} of {units} stamps issued.",
    "portal.stamp_count": "Number of stamps",
    "portal.issue": "Issue stamps",
    "portal.events": "Events",
    "portal.correct": "Correct",
    "portal.recorded_by": "Recorded by facility {facility}.",
    "portal.distant": "scanned in distant places",
    "inspect.title": "Ledger",
    "inspect.origin": "Origin",
    "inspect.size": "Entries",
    "inspect.latest_checkpoint": "Latest checkpoint",
    "inspect.checkpoint_at": "{size} entries",
    "inspect.last_audit": "Last audit",
    "inspect.intact": "Intact",
    "inspect.not_intact": "NOT intact",
    "inspect.details": "Details",
    "inspect.never": "Never audited",
    "inspect.audit_running": "An audit is running…",
    "inspect.run_audit": "Audit the whole ledger",
    "inspect.tools": "Tools",
    "inspect.entries": "Ledger entries",
    "inspect.consistency": "Check that two checkpoints are consistent",
    "inspect.exports": "Exports",
    "inspect.exports_hint": "The FSMA 204 spreadsheet of every lot over a date range.",
    "inspect.audit": "Audit",
    "inspect.started": "Started by {who}",
    "inspect.audit_progress": "{done} of {total} entries checked…",
    "inspect.audit_ok": "{entries} entries and {checkpoints} signed checkpoints verified.",
    "inspect.audit_detail": "Technical detail (the hashes that differ)",
    "audit.problem.missing": "Entry #{index} is missing: no record is stored at that index.",
    "audit.problem.leaf": "The content of entry #{index} was altered: it no longer matches its "
    "stored hash.",
    "audit.problem.chain": "The hash chain breaks at entry #{index}.",
    "audit.problem.node": "A Merkle tree node over entry #{index} is missing or altered.",
    "audit.problem.extra-nodes": "Merkle tree nodes are stored beyond the last entry (#{index}).",
    "audit.problem.checkpoint-signature": "A checkpoint has no valid signature from a ledger "
    "key (entries from #{index}).",
    "audit.problem.checkpoint-row": "A stored checkpoint differs from its signed body (entries "
    "from #{index}).",
    "audit.problem.checkpoint-root": "A checkpoint's signed Merkle root differs from the root "
    "recomputed from the entries (entries from #{index}).",
    "audit.problem.checkpoint-size": "A checkpoint covers more entries than are stored "
    "(entries from #{index}).",
    "audit.problem.size": "The stored entries do not match the size in the ledger head (from "
    "entry #{index}).",
    "audit.problem.head": "The ledger head (root or chain hash) differs from the recomputed "
    "one (entry #{index}).",
    "audit.problem.error": "The audit could not run: the server log has the details.",
    "inspect.first_bad": "First bad entry:",
    "inspect.entry": "Entry #{index}",
    "inspect.leaf_hash": "Leaf hash",
    "inspect.chain_hash": "Chain hash",
    "inspect.check_inclusion": "Check an inclusion proof",
    "inspect.checkpoint": "Checkpoint",
    "inspect.verify": "Verify",
    "inspect.no_checkpoint": "No signed checkpoint covers this entry yet.",
    "inspect.proof_ok": "Proof verified",
    "inspect.proof_bad": "Proof does NOT verify",
    "inspect.consistent": "Consistent",
    "inspect.step_checkpoint": "Checkpoint of {size} entries, signature checked (public key)",
    "inspect.signed_by": "signed by {names}",
    "inspect.step_leaf": "Leaf hash of entry #{index}",
    "inspect.step_hash_left": "Hashed with the sibling on the left",
    "inspect.step_hash_right": "Hashed with the sibling on the right",
    "inspect.step_root": "The result equals the signed root",
    "inspect.step_proof": "Consistency proof ({count} hashes)",
    "inspect.old": "Old",
    "inspect.new": "New",
    "inspect.suspend_facility": "Suspend facility",
    "inspect.suspend_certificate": "Suspend certificate",
    "inspect.recall": "Recall lot",
    "inspect.downstream": "The recall also reaches:",
    "inspect.bundle": "Proof bundle",
    "cert.valid": "Valid",
    "cert.not_valid": "Not valid",
    "dash.since": "Since {since} ({days} days)",
    "dash.issued": "Stamps issued per day",
    "dash.scanned": "Stamps first scanned per day",
    "dash.table": "Figures",
    "admin.saved": "Saved.",
    "admin.add": "Add",
    "admin.add_facility": "Add a facility",
    "admin.certify": "Add a certificate",
    "admin.products": "Products",
    "admin.add_product": "Add a product",
    "admin.users": "Users and roles",
    "admin.add_user": "Add a user",
    "admin.change": "Change",
    "admin.save": "Save",
    "admin.inactive": "Deactivated",
    "admin.locked": "Locked (failed sign-ins)",
    "admin.keys": "Signing keys",
    "admin.purpose": "Purpose",
    "admin.rotate": "Rotate key",
    "admin.rotate_hint": "Old keys stay to verify the stamps and checkpoints they signed.",
    "admin.tokens": "Users' API tokens",
    "admin.all_tokens": "See and revoke every user's API tokens",
    "admin.tokens_hint": "An API token uses /api/v1 with its owner's current role and "
    "facility, and stops working when it is revoked or the account is deactivated. Token "
    "secrets are not stored and never shown here: only their first characters, to tell "
    "them apart.",
    "admin.never_expires": "Never",
    "admin.revoked_at": "Revoked {time}",
    "admin.revoked_by": "by {user}",
    "admin.revoke_reason": "Reason",
    "admin.revoke_reason_was": "Reason: {reason}",
    "admin.owner_inactive": "Unusable: the account is deactivated",
    "admin.token_revoked": "API token #{id} revoked.",
    "admin.revoke_label": "Revoke the token {name} of {user}",
    "col.owner": "Owner",
    "col.acts_as": "Acts as (role · facility)",
    "col.expires": "Expires",
    "error.401": "You need to sign in.",
    # ledger entry page
    "entry.title": "Ledger entry #{index}",
    "entry.back": "Back to the stamp",
    "entry.verified_short": "Verified: this entry is in the signed ledger",
    "entry.verified": "This server checked the checkpoint's signature ({size} entries) with "
    "the published key, then the inclusion proof (RFC 9162): from this entry's leaf hash, the "
    "proof's hashes lead to exactly the signed root hash.",
    "entry.not_verified": "The proof does NOT verify",
    "entry.not_covered": "No signed checkpoint covers this entry yet; its proof will be here "
    "after the next signing.",
    "entry.record": "What this entry records",
    "entry.corrects": "Corrects entry",
    "entry.raw": "The raw record (canonical JSON, exactly the bytes that were hashed)",
    "entry.proof": "Proof",
    "entry.index": "Index in the ledger",
    "entry.recorded_at": "Written to the ledger",
    "entry.leaf_hash": "Leaf hash (SHA-256)",
    "entry.checkpoint": "Signed checkpoint it is proven against",
    "entry.origin": "Origin",
    "entry.size": "Size",
    "entry.root": "Root hash",
    "entry.signed_by": "Signed by",
    "entry.proof_hashes": "Proof hashes ({count})",
    "entry.proof_empty": "None needed: the ledger then had a single entry.",
    "entry.note": "The checkpoint's signed text",
    "entry.verify_yourself": "Verify it yourself",
    "entry.json": "This entry as JSON",
    "entry.bundle": "Download the proof bundle (verify offline)",
    "entry.latest_checkpoint": "Latest checkpoint",
    "entry.offline": "Verify offline with the public key alone:",
    "entry.private": "Private details",
    "entry.private_hidden": "This entry's commercial details (trading partner, quantities, "
    "temperatures, notes) are private: the public ledger keeps only salted SHA-256 "
    "commitments to them. Only the facilities concerned, inspectors and administrators see "
    "them.",
    "entry.private_verified": "Verified against the commitment: each value below matches its "
    "commitment in the ledger entry",
    "entry.bundle_shared": "Download the proof bundle with the private details (to share)",
    "detail.lot": "Lot",
    "detail.product": "Product",
    "detail.certificate": "Certificate",
    "detail.validity": "Valid",
    "detail.serials": "Serials",
    "detail.cascade": "The recall also covers",
    "detail.to": "To",
    "detail.from": "From",
    "detail.note": "Note",
    "detail.inputs": "Input lots",
    "detail.outputs": "Output lots",
}

# Service errors, as err.<key>.
VI.update({f"err.{key}": text for key, text in ERRORS_VI.items()})
EN.update({f"err.{key}": text for key, text in ERROR_MESSAGES.items()})

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


#: The names of form fields (an error's ``field`` fact) in languages other than English.
FIELD_NAMES: dict[str, dict[str, str]] = {"vi": FIELDS_VI}


def _fact(lang: str, name: str, value: Any) -> Any:
    """A fact as a message in ``lang`` shows it. The English messages name fields, roles and
    steps as the code does (``harvest date``, ``inspector``); other languages translate them."""
    if lang != "en" and isinstance(value, str):
        if name == "field":
            return FIELD_NAMES.get(lang, {}).get(value, value)
        if name in ("role", "step"):
            return MESSAGES.get(lang, EN).get(f"{name}.{value}", value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return format_date(value, lang)
    return value


def error_message(lang: str, error: AgritraceError) -> str:
    """What ``error`` says in ``lang``: its key's text filled in with its facts (fields,
    roles, steps and dates in ``lang``), or its own English message when it has no key."""
    template = MESSAGES.get(lang, EN).get(f"err.{error.key}") if error.key else None
    if template is None:
        return error.message
    facts = {name: _fact(lang, name, value) for name, value in error.facts.items()}
    try:
        return template.format_map(facts)
    except (KeyError, IndexError, ValueError):
        return error.message


def error_language(lang: str, error: AgritraceError) -> str:
    """The language :func:`error_message` answers in (English for an error without a key)."""
    return lang if error.key and f"err.{error.key}" in MESSAGES.get(lang, EN) else "en"


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
            "error_text": lambda error: error_message(lang, error),
            "error_lang": lambda error: error_language(lang, error),
            "label": lambda group, slug: (
                translate(lang, f"{group}.{slug}") if has_message(f"{group}.{slug}") else slug
            ),
        }

    app.after_request(_remember_choice)
