"""The classes of bulletin text that need context to be read right (issue 17, item 5).

Each table holds sentences written in the style of commune and provincial bulletins (flood and
storm warnings, vaccination notices, administrative announcements, sports news on the commune
station), with the exact spoken form. How each class is decided: docs/normalization.md, "Context".
"""

from __future__ import annotations

import pytest

from audio.normalize import normalize_for_speech

# fractions
FRACTIONS: list[tuple[str, str]] = [
    ('Đã thu hoạch được 3/5 diện tích lúa Đông Xuân.', 'Đã thu hoạch được ba phần năm diện tích lúa Đông Xuân.'),
    ('Hơn 2/3 số đại biểu biểu quyết tán thành.', 'Hơn hai phần ba số đại biểu biểu quyết tán thành.'),
    ('Nghị quyết được thông qua khi có trên 1/2 tổng số đại biểu tán thành.', 'Nghị quyết được thông qua khi có trên một nửa tổng số đại biểu tán thành.'),
    ('Khoảng 1/3 dân số của xã làm nghề chăn nuôi.', 'Khoảng một phần ba dân số của xã làm nghề chăn nuôi.'),
    ('Lũ đã làm ngập 1/4 diện tích hoa màu.', 'Lũ đã làm ngập một phần tư diện tích hoa màu.'),
    ('Xã đã giải ngân 4/5 kinh phí được giao.', 'Xã đã giải ngân bốn phần năm kinh phí được giao.'),
    ('Hộ nghèo chiếm 1/10 số hộ toàn thôn.', 'Hộ nghèo chiếm một phần mười số hộ toàn thôn.'),
    ('Đã hoàn thành 2/3 khối lượng công việc.', 'Đã hoàn thành hai phần ba khối lượng công việc.'),
    ('Gần 3/4 số hộ đã lắp đặt nước sạch.', 'Gần ba phần tư số hộ đã lắp đặt nước sạch.'),
    ('Tuyến đường đã thi công được 1/2 chiều dài.', 'Tuyến đường đã thi công được một nửa chiều dài.'),
    ('Dịch tả lợn châu Phi làm chết 1/5 đàn lợn của thôn.', 'Dịch tả lợn châu Phi làm chết một phần năm đàn lợn của thôn.'),
    ('Hồ chứa mới tích được 2/3 dung tích thiết kế.', 'Hồ chứa mới tích được hai phần ba dung tích thiết kế.'),
    ('Đã có 5/7 thôn hoàn thành tiêu chí nông thôn mới.', 'Đã có năm phần bảy thôn hoàn thành tiêu chí nông thôn mới.'),
    ('Sản lượng vụ này chỉ đạt 3/4 sản lượng vụ trước.', 'Sản lượng vụ này chỉ đạt ba phần tư sản lượng vụ trước.'),
    ('Cuộc họp hợp lệ khi có ít nhất 2/3 thành viên tham dự.', 'Cuộc họp hợp lệ khi có ít nhất hai phần ba thành viên tham dự.'),
    ('Kinh phí hỗ trợ bằng 1/2 giá trị công trình.', 'Kinh phí hỗ trợ bằng một nửa giá trị công trình.'),
    ('Rừng phòng hộ chiếm 2/5 diện tích tự nhiên của xã.', 'Rừng phòng hộ chiếm hai phần năm diện tích tự nhiên của xã.'),
    ('Mới có 1/3 số học sinh được tiêm mũi hai.', 'Mới có một phần ba số học sinh được tiêm mũi hai.'),
    ('Đạt 3/5 chỉ tiêu kế hoạch năm.', 'Đạt ba phần năm chỉ tiêu kế hoạch năm.'),
    ('Quá 1/2 thời hạn mà công trình chưa khởi công.', 'Quá một nửa thời hạn mà công trình chưa khởi công.'),
    ('Nước dâng làm ngập 2/3 tuyến đường liên thôn.', 'Nước dâng làm ngập hai phần ba tuyến đường liên thôn.'),
    ('Mỗi hộ được nhận 1/2 suất gạo hỗ trợ.', 'Mỗi hộ được nhận một nửa suất gạo hỗ trợ.'),
    ('Ngân sách tỉnh bảo đảm 3/4 kinh phí, phần còn lại do xã đối ứng.', 'Ngân sách tỉnh bảo đảm ba phần tư kinh phí, phần còn lại do xã đối ứng.'),
    ('Đã có 9/10 hộ dân ký cam kết không đốt rơm rạ.', 'Đã có chín phần mười hộ dân ký cam kết không đốt rơm rạ.'),
    ('Lao động đi làm xa chiếm gần 1/4 lao động của thôn.', 'Lao động đi làm xa chiếm gần một phần tư lao động của thôn.'),
    ('Bão làm tốc mái 1/3 số nhà trong thôn.', 'Bão làm tốc mái một phần ba số nhà trong thôn.'),
    ('Xã đã hoàn thành 7/9 nhiệm vụ trọng tâm.', 'Xã đã hoàn thành bảy phần chín nhiệm vụ trọng tâm.'),
    ('Khoảng 2/3 lượng mưa tập trung vào tháng 9.', 'Khoảng hai phần ba lượng mưa tập trung vào tháng chín.'),
    ('Hơn 1/2 số phiếu đồng ý.', 'Hơn một nửa số phiếu đồng ý.'),
    ('Đã thu được 4/5 quỹ phòng chống thiên tai.', 'Đã thu được bốn phần năm quỹ phòng chống thiên tai.'),
    ('Có 3/4 cán bộ, công chức đã học xong lớp bồi dưỡng.', 'Có ba phần tư cán bộ, công chức đã học xong lớp bồi dưỡng.'),
    ('Chiếm 1/5 tổng vốn đầu tư.', 'Chiếm một phần năm tổng vốn đầu tư.'),
    ('Phần diện tích bị hạn bằng 1/6 diện tích gieo trồng.', 'Phần diện tích bị hạn bằng một phần sáu diện tích gieo trồng.'),
    ('Trên 2/3 số cử tri đã đi bỏ phiếu trước 11h.', 'Trên hai phần ba số cử tri đã đi bỏ phiếu trước mười một giờ.'),
    ('Mới có 1/2 số hộ nộp quỹ.', 'Mới có một nửa số hộ nộp quỹ.'),
    ('Hộ sản xuất giỏi chiếm 1/8 tổng số hộ.', 'Hộ sản xuất giỏi chiếm một phần tám tổng số hộ.'),
    ('Đã tiêm cho 3/5 đàn trâu bò.', 'Đã tiêm cho ba phần năm đàn trâu bò.'),
    ('Khoảng 1/4 quân số được huy động ứng trực.', 'Khoảng một phần tư quân số được huy động ứng trực.'),
    ('Lượng nước trong hồ chỉ còn 1/3 dung tích.', 'Lượng nước trong hồ chỉ còn một phần ba dung tích.'),
    ('Sau 2/3 thời gian thi công, tiến độ đạt yêu cầu.', 'Sau hai phần ba thời gian thi công, tiến độ đạt yêu cầu.'),
]

# house numbers, alleys, streets named after dates
HOUSE_NUMBERS_AND_STREETS: list[tuple[str, str]] = [
    ('Gia đình ông Nam ở ngách 45/7 phố Hàng Bạc.', 'Gia đình ông Nam ở ngách bốn mươi lăm trên bảy phố Hàng Bạc.'),
    ('Điểm tiêm đặt tại số nhà 12/3 đường Lê Lợi.', 'Điểm tiêm đặt tại số nhà mười hai trên ba đường Lê Lợi.'),
    ('Cháy nhà ở hẻm 25/4 đường Nguyễn Trãi.', 'Cháy nhà ở hẻm hai mươi lăm trên bốn đường Nguyễn Trãi.'),
    ('Trụ sở mới ở số 18/2 đường Trần Phú.', 'Trụ sở mới ở số mười tám trên hai đường Trần Phú.'),
    ('Địa chỉ: kiệt 120/15 đường Hùng Vương.', 'Địa chỉ: kiệt một trăm hai mươi trên mười lăm đường Hùng Vương.'),
    ('Nhận hồ sơ tại nhà số 7/2 tổ 5.', 'Nhận hồ sơ tại nhà số bảy trên hai tổ năm.'),
    ('Ngõ 158/12 bị ngập sâu 0,5 m.', 'Ngõ một trăm năm mươi tám trên mười hai bị ngập sâu không phẩy năm mét.'),
    ('Sạt lở tại ngõ 3/5 thôn Đông.', 'Sạt lở tại ngõ ba trên năm thôn Đông.'),
    ('Gia đình bà Lan ở hẻm 45/7/3 đường Cách Mạng Tháng Tám.', 'Gia đình bà Lan ở hẻm bốn mươi lăm trên bảy trên ba đường Cách Mạng Tháng Tám.'),
    ('Số nhà 25/3 ngõ Chợ.', 'Số nhà hai mươi lăm trên ba ngõ Chợ.'),
    ('Lô 12/3 khu tái định cư được bàn giao.', 'Lô mười hai trên ba khu tái định cư được bàn giao.'),
    ('Thửa 245/2 tờ bản đồ số 8.', 'Thửa hai trăm bốn mươi lăm trên hai tờ bản đồ số tám.'),
    ('Căn hộ 12/5 nhà tập thể đã được sửa chữa.', 'Căn hộ mười hai trên năm nhà tập thể đã được sửa chữa.'),
    ('Phòng 3/2 nhà văn hóa thôn.', 'Phòng ba trên hai nhà văn hóa thôn.'),
    ('Lễ mít tinh tổ chức tại Quảng trường 19/8.', 'Lễ mít tinh tổ chức tại Quảng trường mười chín tháng tám.'),
    ('Cấm xe tải trên đường 3/2 từ 6h đến 9h.', 'Cấm xe tải trên đường ba tháng hai từ sáu giờ đến chín giờ.'),
    ('Phân luồng giao thông trên phố 30/4.', 'Phân luồng giao thông trên phố ba mươi tháng tư.'),
    ('Thi công cầu 2/9 đến hết tháng 10.', 'Thi công cầu hai tháng chín đến hết tháng mười.'),
    ('Đường 19/5 được trồng thêm cây xanh.', 'Đường mười chín tháng năm được trồng thêm cây xanh.'),
    ('Học sinh trường THCS 8/3 tham gia văn nghệ.', 'Học sinh trường trung học cơ sở tám tháng ba tham gia văn nghệ.'),
    ('Chợ 1/5 tạm ngừng họp phiên.', 'Chợ một tháng năm tạm ngừng họp phiên.'),
    ('Công viên 29/3 mở cửa trở lại.', 'Công viên hai mươi chín tháng ba mở cửa trở lại.'),
    ('Đường 26/3 đoạn qua thị trấn đang sửa.', 'Đường hai mươi sáu tháng ba đoạn qua thị trấn đang sửa.'),
    ('Sân vận động 10/10 là nơi diễn ra lễ khai mạc.', 'Sân vận động mười tháng mười là nơi diễn ra lễ khai mạc.'),
    ('Phố 8/3 cấm đỗ xe.', 'Phố tám tháng ba cấm đỗ xe.'),
    ('Đường 45/7 không phải tên ngày.', 'Đường bốn mươi lăm trên bảy không phải tên ngày.'),
    ('Lễ kỷ niệm ngày 2/9 tại đường 2/9.', 'Lễ kỷ niệm ngày mùng hai tháng chín tại đường hai tháng chín.'),
    ('Bến 3/2 tạm dừng đón khách.', 'Bến ba tháng hai tạm dừng đón khách.'),
    ('Khu phố 12/4 có 150 hộ.', 'Khu phố mười hai tháng tư có một trăm năm mươi hộ.'),
    ('Ngách 2/9 ngõ 45 phố Trần Duy Hưng.', 'Ngách hai trên chín ngõ bốn mươi lăm phố Trần Duy Hưng.'),
]

# document numbers
DOCUMENT_NUMBERS: list[tuple[str, str]] = [
    ('Thực hiện Công điện số 123/CĐ-TTg của Thủ tướng Chính phủ.', 'Thực hiện Công điện số một trăm hai mươi ba xê đê tê tê gờ của Thủ tướng Chính phủ.'),
    ('Theo Thông tư số 05/2024/TT-BYT của Bộ Y tế.', 'Theo Thông tư số năm năm hai nghìn không trăm hai mươi tư tê tê bê y tê của Bộ Y tế.'),
    ('Luật số 18/2023/QH15 có hiệu lực từ ngày 1/7/2024.', 'Luật số mười tám năm hai nghìn không trăm hai mươi ba quốc hội mười lăm có hiệu lực từ ngày mùng một tháng bảy năm hai nghìn không trăm hai mươi tư.'),
    ('Tờ trình số 45/TTr-UBND về dự toán ngân sách.', 'Tờ trình số bốn mươi lăm tê tê rờ ủy ban nhân dân về dự toán ngân sách.'),
    ('Nghị quyết số 09/NQ-HĐND của HĐND xã.', 'Nghị quyết số chín nờ quy hội đồng nhân dân của hội đồng nhân dân xã.'),
    ('Chỉ thị số 01/CT-TTg về phòng chống dịch.', 'Chỉ thị số một xê tê tê tê gờ về phòng chống dịch.'),
    ('Quyết định số 1520/QĐ-BCĐ ngày 10/5/2025.', 'Quyết định số một nghìn năm trăm hai mươi quy đê ban chỉ đạo ngày mùng mười tháng năm năm hai nghìn không trăm hai mươi lăm.'),
    ('Báo cáo số 35/BC-UBND ngày 20/6.', 'Báo cáo số ba mươi lăm bê xê ủy ban nhân dân ngày hai mươi tháng sáu.'),
    ('Kế hoạch số 07/KH-BCĐ triển khai tiêm chủng.', 'Kế hoạch số bảy ca hát ban chỉ đạo triển khai tiêm chủng.'),
    ('Công văn số 256/UBND-KT về việc chống hạn.', 'Công văn số hai trăm năm mươi sáu ủy ban nhân dân ca tê về việc chống hạn.'),
    ('Nghị định 168/2024/NĐ-CP quy định xử phạt vi phạm giao thông.', 'Nghị định một trăm sáu mươi tám năm hai nghìn không trăm hai mươi tư nờ đê xê pê quy định xử phạt vi phạm giao thông.'),
    ('Thông báo số 12/TB-VP ngày 3/3/2025.', 'Thông báo số mười hai tê bê vê pê ngày mùng ba tháng ba năm hai nghìn không trăm hai mươi lăm.'),
    ('Quyết định 2345/QĐ-TTg phê duyệt đề án.', 'Quyết định hai nghìn ba trăm bốn mươi lăm quy đê tê tê gờ phê duyệt đề án.'),
    ('Thông tư 22/2021/TT-BGDĐT về đánh giá học sinh.', 'Thông tư hai mươi hai năm hai nghìn không trăm hai mươi mốt tê tê bê giê đê đê tê về đánh giá học sinh.'),
    ('Nghị quyết 01/NQ-CP về nhiệm vụ năm 2025.', 'Nghị quyết một nờ quy xê pê về nhiệm vụ năm hai nghìn không trăm hai mươi lăm.'),
    ('Kết luận số 14/KL-TW của Bộ Chính trị.', 'Kết luận số mười bốn ca lờ trung ương của Bộ Chính trị.'),
    ('Hướng dẫn số 03/HD-UBND về bầu cử.', 'Hướng dẫn số ba hát đê ủy ban nhân dân về bầu cử.'),
    ('Công điện 05/CĐ-UBND về ứng phó bão số 3.', 'Công điện năm xê đê ủy ban nhân dân về ứng phó bão số ba.'),
    ('Quyết định số 35/2024/QĐ-UBND của UBND tỉnh.', 'Quyết định số ba mươi lăm năm hai nghìn không trăm hai mươi tư quy đê ủy ban nhân dân của ủy ban nhân dân tỉnh.'),
    ('Giấy mời số 15/GM-UBND họp lúc 8h.', 'Giấy mời số mười lăm giê mờ ủy ban nhân dân họp lúc tám giờ.'),
    ('Thông tư 36/2024/TT-BCA về trật tự giao thông.', 'Thông tư ba mươi sáu năm hai nghìn không trăm hai mươi tư tê tê bê xê a về trật tự giao thông.'),
    ('Nghị định số 45/2022/NĐ-CP về xử phạt môi trường.', 'Nghị định số bốn mươi lăm năm hai nghìn không trăm hai mươi hai nờ đê xê pê về xử phạt môi trường.'),
    ('Quyết định số 08/QĐ-UBND ngày 05/01/2025.', 'Quyết định số tám quy đê ủy ban nhân dân ngày mùng năm tháng một năm hai nghìn không trăm hai mươi lăm.'),
    ('Luật Đất đai số 31/2024/QH15.', 'Luật Đất đai số ba mươi mốt năm hai nghìn không trăm hai mươi tư quốc hội mười lăm.'),
    ('Văn bản số 1024/BNN-TT của Bộ Nông nghiệp.', 'Văn bản số một nghìn không trăm hai mươi tư bê nờ nờ tê tê của Bộ Nông nghiệp.'),
    ('Công văn số 88/SYT-NVY gửi các trạm y tế.', 'Công văn số tám mươi tám ét y tê nờ vê y gửi các trạm y tế.'),
    ('Thông báo kết luận số 210/TB-UBND.', 'Thông báo kết luận số hai trăm mười tê bê ủy ban nhân dân.'),
    ('Quyết định số 1719/QĐ-TTg về chương trình mục tiêu quốc gia.', 'Quyết định số một nghìn bảy trăm mười chín quy đê tê tê gờ về chương trình mục tiêu quốc gia.'),
    ('Nghị quyết số 30/2021/QH15 của Quốc hội.', 'Nghị quyết số ba mươi năm hai nghìn không trăm hai mươi mốt quốc hội mười lăm của Quốc hội.'),
    ('Kế hoạch 125/KH-UBND ngày 12/12/2024.', 'Kế hoạch một trăm hai mươi lăm ca hát ủy ban nhân dân ngày mười hai tháng mười hai năm hai nghìn không trăm hai mươi tư.'),
]

# leading zeros
LEADING_ZEROS: list[tuple[str, str]] = [
    ('Thời gian niêm yết danh sách là 07 ngày.', 'Thời gian niêm yết danh sách là bảy ngày.'),
    ('Mỗi ca trực kéo dài 09 phút kiểm tra thiết bị.', 'Mỗi ca trực kéo dài chín phút kiểm tra thiết bị.'),
    ('Vụ tai nạn làm 02 người bị thương nhẹ.', 'Vụ tai nạn làm hai người bị thương nhẹ.'),
    ('Đoàn gồm 05 đồng chí do Phó Chủ tịch xã làm trưởng đoàn.', 'Đoàn gồm năm đồng chí do Phó Chủ tịch xã làm trưởng đoàn.'),
    ('Phát hiện 03 trường hợp mắc sốt xuất huyết.', 'Phát hiện ba trường hợp mắc sốt xuất huyết.'),
    ('Lũ cuốn trôi 04 con trâu.', 'Lũ cuốn trôi bốn con trâu.'),
    ('Hạn nộp hồ sơ trong vòng 05 ngày làm việc.', 'Hạn nộp hồ sơ trong vòng năm ngày làm việc.'),
    ('Thôn 01 và thôn 02 bị mất điện.', 'Thôn một và thôn hai bị mất điện.'),
    ('Tổ dân phố 05 họp lúc 19h30.', 'Tổ dân phố năm họp lúc mười chín giờ ba mươi phút.'),
    ('Đã cấp 06 tấn gạo cứu đói.', 'Đã cấp sáu tấn gạo cứu đói.'),
    ('Khen thưởng 08 tập thể và 12 cá nhân.', 'Khen thưởng tám tập thể và mười hai cá nhân.'),
    ('Tàu cá có 09 thuyền viên đã vào bờ an toàn.', 'Tàu cá có chín thuyền viên đã vào bờ an toàn.'),
    ('Bổ sung 02 điểm tiêm chủng.', 'Bổ sung hai điểm tiêm chủng.'),
    ('Thời gian cách ly là 07 ngày kể từ ngày tiếp xúc.', 'Thời gian cách ly là bảy ngày kể từ ngày tiếp xúc.'),
    ('Họp lúc 7 giờ 05 phút.', 'Họp lúc bảy giờ năm phút.'),
    ('Khai mạc lúc 8 giờ 05.', 'Khai mạc lúc tám giờ năm.'),
    ('Còn 03 hộ chưa di dời.', 'Còn ba hộ chưa di dời.'),
    ('Xã có 04 cơ sở giáo dục.', 'Xã có bốn cơ sở giáo dục.'),
    ('Khu phố 03 tổ chức tổng vệ sinh.', 'Khu phố ba tổ chức tổng vệ sinh.'),
    ('Ấp 02 đã hoàn thành đường giao thông nông thôn.', 'Ấp hai đã hoàn thành đường giao thông nông thôn.'),
    ('Tiêm 02 mũi cách nhau 04 tuần.', 'Tiêm hai mũi cách nhau bốn tuần.'),
    ('Đã xử lý 06 vụ vi phạm.', 'Đã xử lý sáu vụ vi phạm.'),
    ('Đã có 01 người tử vong.', 'Đã có một người tử vong.'),
    ('Trao 05 suất học bổng cho học sinh nghèo.', 'Trao năm suất học bổng cho học sinh nghèo.'),
    ('Mã hồ sơ 0512 cần bổ sung.', 'Mã hồ sơ không năm một hai cần bổ sung.'),
    ('Lô 05 chưa có người trúng đấu giá.', 'Lô không năm chưa có người trúng đấu giá.'),
    ('Bàn số 03 tiếp nhận hồ sơ đất đai.', 'Bàn số không ba tiếp nhận hồ sơ đất đai.'),
    ('Khoản 02 Điều 5 của Luật.', 'Khoản hai Điều năm của Luật.'),
    ('Có 09 hộ được hỗ trợ làm nhà.', 'Có chín hộ được hỗ trợ làm nhà.'),
    ('Huy động 02 xe cứu thương túc trực.', 'Huy động hai xe cứu thương túc trực.'),
    ('Đội 03 ra quân làm thủy lợi.', 'Đội ba ra quân làm thủy lợi.'),
    ('Tăng 05% so với cùng kỳ.', 'Tăng năm phần trăm so với cùng kỳ.'),
    ('Sau 03 tháng thực hiện, mô hình cho kết quả tốt.', 'Sau ba tháng thực hiện, mô hình cho kết quả tốt.'),
    ('Tổ chức 02 đợt ra quân.', 'Tổ chức hai đợt ra quân.'),
    ('Chỉ đạo 04 xã vùng trũng chủ động tiêu úng.', 'Chỉ đạo bốn xã vùng trũng chủ động tiêu úng.'),
]

# one-letter place abbreviations
PLACE_LETTERS: list[tuple[str, str]] = [
    ('Điểm tiếp nhận hàng cứu trợ tại P. Bến Nghé, Q.1.', 'Điểm tiếp nhận hàng cứu trợ tại phường Bến Nghé, quận một.'),
    ('Đoàn công tác làm việc tại X. Tân Lập, H. Đan Phượng.', 'Đoàn công tác làm việc tại xã Tân Lập, huyện Đan Phượng.'),
    ('X. Tân Lập, H. Đan Phượng triển khai tiêm chủng.', 'xã Tân Lập, huyện Đan Phượng triển khai tiêm chủng.'),
    ('Mưa lớn gây ngập tại P.5, Q.3.', 'Mưa lớn gây ngập tại phường năm, quận ba.'),
    ('Trường tiểu học ở H. Đông Anh được khen thưởng.', 'Trường tiểu học ở huyện Đông Anh được khen thưởng.'),
    ('Hội thi được tổ chức ở Q. Ba Đình.', 'Hội thi được tổ chức ở quận Ba Đình.'),
    ('Ông Nguyễn Văn H. được bầu làm trưởng thôn.', 'Ông Nguyễn Văn hát. được bầu làm trưởng thôn.'),
    ('Đồng chí Trần H. Nam phát biểu.', 'Đồng chí Trần hát. Nam phát biểu.'),
    ('Các hộ dân X. Hòa Bình chủ động gia cố nhà cửa.', 'Các hộ dân xã Hòa Bình chủ động gia cố nhà cửa.'),
    ('Cầu treo ở X. Mường Lý bị hư hỏng.', 'Cầu treo ở xã Mường Lý bị hư hỏng.'),
    ('Trạm y tế P.12 tiêm vắc-xin sởi.', 'Trạm y tế phường mười hai tiêm vắc xin sởi.'),
    ('Lũ quét tại X. Nậm Cang, H. Sa Pa.', 'Lũ quét tại xã Nậm Cang, huyện Sa Pa.'),
    ('Trụ sở Công an P. Hòa Cường.', 'Trụ sở Công an phường Hòa Cường.'),
    ('Điểm sạt lở ở X.Trà Leng, H.Nam Trà My.', 'Điểm sạt lở ở xã Trà Leng, huyện Nam Trà My.'),
    ('Bệnh viện đa khoa H. Mê Linh tiếp nhận bệnh nhân.', 'Bệnh viện đa khoa huyện Mê Linh tiếp nhận bệnh nhân.'),
    ('Chợ đầu mối Q. Hoàng Mai mở cửa lại.', 'Chợ đầu mối quận Hoàng Mai mở cửa lại.'),
    ('Hội nghị tại UBND P. Bình Thuận.', 'Hội nghị tại ủy ban nhân dân phường Bình Thuận.'),
    ('X. NHIỆM VỤ TRỌNG TÂM', 'mười. nhiệm vụ trọng tâm'),
    ('Địa chỉ: số 5, P. Tân Định, Q.1, TP.HCM.', 'Địa chỉ: số năm, phường Tân Định, quận một, thành phố Hồ Chí Minh.'),
    ('Học sinh H. Ba Vì đạt giải nhất.', 'Học sinh huyện Ba Vì đạt giải nhất.'),
    ('Người dân P. Đông Ngạc đổ rác đúng giờ.', 'Người dân phường Đông Ngạc đổ rác đúng giờ.'),
    ('Thôn Đông, X. Yên Sở, H. Hoài Đức.', 'Thôn Đông, xã Yên Sở, huyện Hoài Đức.'),
]

# weekdays
WEEKDAYS: list[tuple[str, str]] = [
    ('Lịch tiêm chủng: T2, T4, T6 hằng tuần.', 'Lịch tiêm chủng: thứ hai, thứ tư, thứ sáu hằng tuần.'),
    ('Bộ phận một cửa làm việc từ T2-T6.', 'Bộ phận một cửa làm việc từ thứ hai đến thứ sáu.'),
    ('Sáng T7 tổng vệ sinh đường làng.', 'Sáng thứ bảy tổng vệ sinh đường làng.'),
    ('Chợ phiên họp vào CN hằng tuần.', 'Chợ phiên họp vào chủ nhật hằng tuần.'),
    ('Tiếp công dân vào T3 và T5.', 'Tiếp công dân vào thứ ba và thứ năm.'),
    ('Lớp học xóa mù chữ mở vào tối T2, T4.', 'Lớp học xóa mù chữ mở vào tối thứ hai, thứ tư.'),
    ('Thu gom rác vào T3, T5, T7.', 'Thu gom rác vào thứ ba, thứ năm, thứ bảy.'),
    ('Làm việc cả T7 và CN trong đợt cao điểm.', 'Làm việc cả thứ bảy và chủ nhật trong đợt cao điểm.'),
    ('Lịch trực: T2 - CN.', 'Lịch trực: thứ hai đến chủ nhật.'),
    ('Mở cửa từ thứ 2 - CN.', 'Mở cửa từ thứ hai đến chủ nhật.'),
    ('T2, 15/3: họp giao ban.', 'thứ hai, ngày mười lăm tháng ba: họp giao ban.'),
    ('CN, 20/4 tổ chức ngày hội đọc sách.', 'chủ nhật, ngày hai mươi tháng tư tổ chức ngày hội đọc sách.'),
    ('Từ T2 đến T6, sáng từ 7h30 đến 11h30.', 'Từ thứ hai đến thứ sáu, sáng từ bảy giờ ba mươi phút đến mười một giờ ba mươi phút.'),
    ('Khám bệnh miễn phí vào chiều T5.', 'Khám bệnh miễn phí vào chiều thứ năm.'),
    ('Buổi sinh hoạt CLB diễn ra vào tối T6.', 'Buổi sinh hoạt câu lạc bộ diễn ra vào tối thứ sáu.'),
    ('Tiêm phòng cho chó mèo vào T7, CN.', 'Tiêm phòng cho chó mèo vào thứ bảy, chủ nhật.'),
    ('Ngày T4 tuần này có mưa rào.', 'Ngày thứ tư tuần này có mưa rào.'),
    ('Trực ban T2-T7, nghỉ CN.', 'Trực ban thứ hai đến thứ bảy, nghỉ chủ nhật.'),
    ('Sáng CN, đoàn viên ra quân.', 'Sáng chủ nhật, đoàn viên ra quân.'),
    ('Cấp phát thuốc vào sáng T3 hằng tuần.', 'Cấp phát thuốc vào sáng thứ ba hằng tuần.'),
    ('Phiên chợ T6 tạm dừng.', 'Phiên chợ thứ sáu tạm dừng.'),
    ('Lịch phát thanh: T2 đến T6 lúc 17h.', 'Lịch phát thanh: thứ hai đến thứ sáu lúc mười bảy giờ.'),
]

# alarm levels
ALARM_LEVELS: list[tuple[str, str]] = [
    ('Mực nước sông Hồng trên BĐ2 0,3 m.', 'Mực nước sông Hồng trên báo động hai không phẩy ba mét.'),
    ('Lũ trên sông Cả đã lên BĐ3.', 'Lũ trên sông Cả đã lên báo động ba.'),
    ('Mực nước dưới BĐ1 0,5 m.', 'Mực nước dưới báo động một không phẩy năm mét.'),
    ('Khả năng lũ lên mức BĐ 2 trong 24h tới.', 'Khả năng lũ lên mức báo động hai trong hai mươi tư giờ tới.'),
    ('Lũ vượt BĐ3 1,2 m, gây ngập các xã ven sông.', 'Lũ vượt báo động ba một phẩy hai mét, gây ngập các xã ven sông.'),
    ('Mực nước đạt BĐ1 lúc 7h sáng nay.', 'Mực nước đạt báo động một lúc bảy giờ sáng nay.'),
    ('Mực nước ở mức BĐII.', 'Mực nước ở mức báo động hai.'),
    ('Trên BĐIII, các hộ vùng trũng phải sơ tán.', 'Trên báo động ba, các hộ vùng trũng phải sơ tán.'),
    ('Lũ trên sông Thao ở mức BĐ-2.', 'Lũ trên sông Thao ở mức báo động hai.'),
    ('Mực nước từ BĐ1 đến BĐ2.', 'Mực nước từ báo động một đến báo động hai.'),
    ('Cảnh báo lũ lên BĐ2, có nơi trên BĐ3.', 'Cảnh báo lũ lên báo động hai, có nơi trên báo động ba.'),
    ('Mực nước tại trạm Hưng Yên ở dưới BĐ1.', 'Mực nước tại trạm Hưng Yên ở dưới báo động một.'),
    ('Lũ đang xuống, dưới BĐ2 0,15 m.', 'Lũ đang xuống, dưới báo động hai không phẩy mười lăm mét.'),
    ('Khi mực nước đạt BĐ3, kích hoạt phương án sơ tán.', 'Khi mực nước đạt báo động ba, kích hoạt phương án sơ tán.'),
    ('Mực nước đỉnh lũ vượt BĐ3 là 0,8 m.', 'Mực nước đỉnh lũ vượt báo động ba là không phẩy tám mét.'),
    ('Lũ ở mức báo động 2.', 'Lũ ở mức báo động hai.'),
]

# phones
PHONES: list[tuple[str, str]] = [
    ('Mọi thông tin xin liên hệ (024) 3825 1234.', 'Mọi thông tin xin liên hệ không hai bốn, ba tám hai năm, một hai ba bốn.'),
    ('Điện thoại: (0243) 826 123.', 'Điện thoại: không hai bốn ba, tám hai sáu, một hai ba.'),
    ('Văn phòng UBND xã: (0232) 3512 678.', 'Văn phòng ủy ban nhân dân xã: không hai ba hai, ba năm một hai, sáu bảy tám.'),
    ('Số máy trực ban (028) 3829 5678.', 'Số máy trực ban không hai tám, ba tám hai chín, năm sáu bảy tám.'),
    ('Liên hệ (+84) 912 345 678.', 'Liên hệ cộng tám bốn, chín một hai, ba bốn năm, sáu bảy tám.'),
    ('Gọi 113, 114, 115 khi cần trợ giúp.', 'Gọi một một ba, một một bốn, một một năm khi cần trợ giúp.'),
    ('Các số khẩn cấp: 112 (cứu nạn), 113 (công an), 114 (cứu hỏa), 115 (cấp cứu).', 'Các số khẩn cấp: một một hai, cứu nạn, một một ba, công an, một một bốn, cứu hỏa, một một năm, cấp cứu.'),
    ('Khi có cháy gọi 114 hoặc 112.', 'Khi có cháy gọi một một bốn hoặc một một hai.'),
    ('Đường dây nóng 111 bảo vệ trẻ em.', 'Đường dây nóng một một một bảo vệ trẻ em.'),
    ('Tổng đài 1022 hoặc 1900 9095.', 'Tổng đài một không hai hai hoặc một chín không không, chín không chín năm.'),
    ('Hotline: 113; 115.', 'đường dây nóng: một một ba; một một năm.'),
    ('Gọi ngay 115 hay 114 khi có sự cố.', 'Gọi ngay một một năm hay một một bốn khi có sự cố.'),
    ('Người dân gọi 113/114/115 khi gặp nguy hiểm.', 'Người dân gọi một một ba, một một bốn, một một năm khi gặp nguy hiểm.'),
    ('Điện thoại trực ban phòng chống thiên tai: (0236) 3822 111.', 'Điện thoại trực ban phòng chống thiên tai: không hai ba sáu, ba tám hai hai, một một một.'),
    ('Liên hệ số 0912 345 678 hoặc 113.', 'Liên hệ số không chín một hai, ba bốn năm, sáu bảy tám hoặc một một ba.'),
    ('Fax: (024) 3733 5566.', 'Fax: không hai bốn, ba bảy ba ba, năm năm sáu sáu.'),
    ('Đầu số 1800 1091 miễn phí.', 'Đầu số một tám không không, một không chín một miễn phí.'),
    ('Số điện thoại tiếp nhận phản ánh: 1022.', 'Số điện thoại tiếp nhận phản ánh: một không hai hai.'),
    ('Đường dây nóng của tỉnh: (0203) 3825 999, 0912 111 222.', 'Đường dây nóng của tỉnh: không hai không ba, ba tám hai năm, chín chín chín, không chín một hai, một một một, hai hai hai.'),
    ('Có 115 hộ được hỗ trợ.', 'Có một trăm mười lăm hộ được hỗ trợ.'),
    ('Gọi 112 và 115 khi có người bị nạn.', 'Gọi một một hai và một một năm khi có người bị nạn.'),
    ('Tổng đài 1900 6868 hoạt động 24/7.', 'Tổng đài một chín không không, sáu tám sáu tám hoạt động hai mươi tư trên bảy.'),
]

# units after scale words
SCALE_UNITS: list[tuple[str, str]] = [
    ('Sản lượng lúa đạt 3,5 nghìn tấn.', 'Sản lượng lúa đạt ba phẩy năm nghìn tấn.'),
    ('Hồ chứa thêm 2 triệu m3 nước.', 'Hồ chứa thêm hai triệu mét khối nước.'),
    ('Toàn tỉnh có 1,2 nghìn ha lúa bị ngập.', 'Toàn tỉnh có một phẩy hai nghìn héc ta lúa bị ngập.'),
    ('Hàng trăm km đê được gia cố.', 'Hàng trăm ki lô mét đê được gia cố.'),
    ('Tiêu thụ 12 triệu kWh điện mỗi tháng.', 'Tiêu thụ mười hai triệu ki lô oát giờ điện mỗi tháng.'),
    ('Hỗ trợ 5 nghìn kg giống lúa.', 'Hỗ trợ năm nghìn ki lô gam giống lúa.'),
    ('Xả 1,5 triệu m3 nước về hạ du.', 'Xả một phẩy năm triệu mét khối nước về hạ du.'),
    ('Trồng mới 3 nghìn ha rừng.', 'Trồng mới ba nghìn héc ta rừng.'),
    ('Kinh phí 2,5 tỷ đ từ ngân sách tỉnh.', 'Kinh phí hai phẩy năm tỷ đồng từ ngân sách tỉnh.'),
    ('Cấp 10 nghìn lít hóa chất khử trùng.', 'Cấp mười nghìn lít hóa chất khử trùng.'),
    ('Hơn 2 nghìn km đường giao thông nông thôn.', 'Hơn hai nghìn ki lô mét đường giao thông nông thôn.'),
    ('Lượng mưa hàng trăm mm gây lũ.', 'Lượng mưa hàng trăm mi li mét gây lũ.'),
    ('Nhà máy công suất 50 nghìn kW.', 'Nhà máy công suất năm mươi nghìn ki lô oát.'),
    ('Giải ngân 800 triệu đ cho hộ nghèo vay vốn.', 'Giải ngân tám trăm triệu đồng cho hộ nghèo vay vốn.'),
    ('Mỗi năm xã thu gom vài trăm kg vỏ thuốc bảo vệ thực vật.', 'Mỗi năm xã thu gom vài trăm ki lô gam vỏ thuốc bảo vệ thực vật.'),
    ('Cung cấp 1,8 triệu lít nước sạch.', 'Cung cấp một phẩy tám triệu lít nước sạch.'),
    ('Đàn gia cầm 2,3 nghìn con.', 'Đàn gia cầm hai phẩy ba nghìn con.'),
    ('Xây dựng 1,5 nghìn m2 nhà văn hóa.', 'Xây dựng một phẩy năm nghìn mét vuông nhà văn hóa.'),
    ('Diện tích rừng 12 nghìn ha.', 'Diện tích rừng mười hai nghìn héc ta.'),
    ('Tổng vốn 120 tỷ đ.', 'Tổng vốn một trăm hai mươi tỷ đồng.'),
    ('Vận chuyển 4 nghìn tấn hàng cứu trợ.', 'Vận chuyển bốn nghìn tấn hàng cứu trợ.'),
    ('Lắp đặt vài chục km đường điện.', 'Lắp đặt vài chục ki lô mét đường điện.'),
    ('Hỗ trợ 20 triệu USD.', 'Hỗ trợ hai mươi triệu đô la Mỹ.'),
]

# scores and ratios
SCORES_AND_RATIOS: list[tuple[str, str]] = [
    ('Hai đội hòa 1-1 sau 90 phút.', 'Hai đội hòa một đều sau chín mươi phút.'),
    ('Đội bóng xã thắng với tỷ số 4-2.', 'Đội bóng xã thắng với tỷ số bốn hai.'),
    ('Chung cuộc đội thôn Đông thắng 3-0.', 'Chung cuộc đội thôn Đông thắng ba không.'),
    ('Đội tuyển thắng Thái Lan 2-1 ở chung kết.', 'Đội tuyển thắng Thái Lan hai một ở chung kết.'),
    ('Trận đấu kết thúc với tỷ số 0-0.', 'Trận đấu kết thúc với tỷ số không không.'),
    ('Đội nữ thua 1-3 trước đội chủ nhà.', 'Đội nữ thua một ba trước đội chủ nhà.'),
    ('Hòa 2-2 ở lượt đi.', 'Hòa hai đều ở lượt đi.'),
    ('Tỷ số chung cuộc 5-4 sau loạt sút luân lưu.', 'Tỷ số chung cuộc năm bốn sau loạt sút luân lưu.'),
    ('Đội xã Yên Lạc gỡ hòa 1-1 ở phút cuối.', 'Đội xã Yên Lạc gỡ hòa một đều ở phút cuối.'),
    ('Kết quả: thôn Bắc thắng thôn Nam 3-2.', 'Kết quả: thôn Bắc thắng thôn Nam ba hai.'),
    ('Đội bóng chuyền thắng 3-1.', 'Đội bóng chuyền thắng ba một.'),
    ('Trận bán kết hòa 0-0.', 'Trận bán kết hòa không không.'),
    ('Tỷ lệ hộ nghèo giảm còn 2/5 so với đầu nhiệm kỳ.', 'Tỷ lệ hộ nghèo giảm còn hai phần năm so với đầu nhiệm kỳ.'),
    ('Bản đồ tỷ lệ 1:500 được niêm yết tại nhà văn hóa.', 'Bản đồ tỷ lệ một trên năm trăm được niêm yết tại nhà văn hóa.'),
    ('Tỷ lệ 1/2000 dùng cho quy hoạch chi tiết.', 'Tỷ lệ một trên hai nghìn dùng cho quy hoạch chi tiết.'),
    ('Tỷ lệ nam nữ là 1:1.', 'Tỷ lệ nam nữ là một trên một.'),
    ('Tỷ lệ trúng cử 3/4.', 'Tỷ lệ trúng cử ba phần tư.'),
    ('Pha trộn theo tỷ lệ 1:3.', 'Pha trộn theo tỷ lệ một trên ba.'),
    ('Tỉ lệ 2/5 số phiếu.', 'Tỉ lệ hai trên năm số phiếu.'),
    ('Tỷ lệ là 1:10.', 'Tỷ lệ là một trên mười.'),
    ('Đội thôn Trung dẫn trước 2-0 trong hiệp một.', 'Đội thôn Trung dẫn trước hai không trong hiệp một.'),
    ('Đội A thua đậm 0-5.', 'Đội A thua đậm không năm.'),
    ('Thắng 21-19 ở séc quyết định.', 'Thắng hai mươi mốt mười chín ở séc quyết định.'),
    ('Trận đấu có tỷ số 2:1.', 'Trận đấu có tỷ số hai một.'),
    ('Số vụ giảm từ 10-15 vụ.', 'Số vụ giảm từ mười đến mười lăm vụ.'),
    ('Nhiệt độ 20-25 độ C, trận đấu vẫn diễn ra.', 'Nhiệt độ hai mươi đến hai mươi lăm độ xê, trận đấu vẫn diễn ra.'),
]

# dates still read as dates in bulletin sentences
DATES_IN_CONTEXT: list[tuple[str, str]] = [
    ('Ngày 3/5 diễn ra lễ ra quân.', 'Ngày mùng ba tháng năm diễn ra lễ ra quân.'),
    ('Từ 2/9 người dân được nghỉ lễ.', 'Từ ngày mùng hai tháng chín người dân được nghỉ lễ.'),
    ('Hạn chót là 15/7.', 'Hạn chót là ngày mười lăm tháng bảy.'),
    ('Sáng 20/11, trường tổ chức mít tinh.', 'Sáng hai mươi tháng mười một, trường tổ chức mít tinh.'),
    ('Lễ hội diễn ra từ 10/3 đến 12/3 âm lịch.', 'Lễ hội diễn ra từ ngày mùng mười tháng ba đến ngày mười hai tháng ba âm lịch.'),
    ('Đêm 24/12 có mưa rét.', 'Đêm hai mươi tư tháng mười hai có mưa rét.'),
    ('Kỷ niệm 30/4 và 1/5.', 'Kỷ niệm ngày ba mươi tháng tư và ngày mùng một tháng năm.'),
    ('Hôm nay, 27/7, xã tổ chức viếng nghĩa trang liệt sĩ.', 'Hôm nay, ngày hai mươi bảy tháng bảy, xã tổ chức viếng nghĩa trang liệt sĩ.'),
    ('Trước 30/6 các hộ nộp thuế.', 'Trước ngày ba mươi tháng sáu các hộ nộp thuế.'),
    ('Sau 5/8 sẽ có đợt nắng nóng.', 'Sau ngày mùng năm tháng tám sẽ có đợt nắng nóng.'),
    ('Chiều 14/2, đoàn kiểm tra làm việc tại xã.', 'Chiều mười bốn tháng hai, đoàn kiểm tra làm việc tại xã.'),
    ('Vào 8/3 hội phụ nữ tổ chức giao lưu.', 'Vào ngày mùng tám tháng ba hội phụ nữ tổ chức giao lưu.'),
    ('Nhận hồ sơ đến hết 31/12.', 'Nhận hồ sơ đến hết ngày ba mươi mốt tháng mười hai.'),
    ('Lúc 7h ngày 12/10 bão đổ bộ.', 'Lúc bảy giờ ngày mười hai tháng mười bão đổ bộ.'),
    ('Ngày 2/3 số hộ được nhận tiền hỗ trợ.', 'Ngày mùng hai tháng ba số hộ được nhận tiền hỗ trợ.'),
    ('Tối 31/12 có bắn pháo hoa.', 'Tối ba mươi mốt tháng mười hai có bắn pháo hoa.'),
    ('Ngày 15/8 năm nay là ngày Rằm.', 'Ngày mười lăm tháng tám năm nay là ngày Rằm.'),
    ('Lịch nghỉ Tết từ 28/1 đến 2/2/2025.', 'Lịch nghỉ Tết từ ngày hai mươi tám tháng một đến ngày mùng hai tháng hai năm hai nghìn không trăm hai mươi lăm.'),
    ('Rạng sáng 9/9, bão số 3 đổ bộ.', 'Rạng sáng mùng chín tháng chín, bão số ba đổ bộ.'),
    ('Mùng 5/5 là Tết Đoan Ngọ.', 'Mùng năm tháng năm là Tết Đoan Ngọ.'),
]

# whole bulletin sentences mixing the classes
MIXED_BULLETINS: list[tuple[str, str]] = [
    ('Thực hiện Công điện số 05/CĐ-UBND, từ T2-T6 các thôn trực 24/24h.', 'Thực hiện Công điện số năm xê đê ủy ban nhân dân, từ thứ hai đến thứ sáu các thôn trực hai mươi tư trên hai mươi tư giờ.'),
    ('Lũ trên BĐ2 làm ngập 1/3 diện tích lúa của X. Tân Lập.', 'Lũ trên báo động hai làm ngập một phần ba diện tích lúa của xã Tân Lập.'),
    ('Điểm sơ tán: nhà văn hóa số 12/3 đường 2/9, điện thoại (0235) 3812 345.', 'Điểm sơ tán: nhà văn hóa số mười hai trên ba đường hai tháng chín, điện thoại không hai ba năm, ba tám một hai, ba bốn năm.'),
    ('Trong 07 ngày, 2/3 số hộ đã nhận hỗ trợ 1,5 triệu đ.', 'Trong bảy ngày, hai phần ba số hộ đã nhận hỗ trợ một phẩy năm triệu đồng.'),
    ('Giải bóng đá xã: thôn Đông hòa thôn Tây 1-1 chiều CN.', 'Giải bóng đá xã: thôn Đông hòa thôn Tây một đều chiều chủ nhật.'),
    ('Theo Quyết định 123/QĐ-TTg, 3/5 kinh phí do ngân sách trung ương bảo đảm.', 'Theo Quyết định một trăm hai mươi ba quy đê tê tê gờ, ba phần năm kinh phí do ngân sách trung ương bảo đảm.'),
    ('Gọi 113, 114 hoặc (024) 3825 1234 khi có sự cố.', 'Gọi một một ba, một một bốn hoặc không hai bốn, ba tám hai năm, một hai ba bốn khi có sự cố.'),
    ('Xả lũ 2 triệu m3, mực nước hạ du dưới BĐ1.', 'Xả lũ hai triệu mét khối, mực nước hạ du dưới báo động một.'),
    ('Tiêm vắc-xin vào sáng T3 tại trạm y tế P. Tân Định.', 'Tiêm vắc xin vào sáng thứ ba tại trạm y tế phường Tân Định.'),
    ('Hạn đăng ký là 05 ngày kể từ ngày 10/3.', 'Hạn đăng ký là năm ngày kể từ ngày mùng mười tháng ba.'),
    ('Đoàn 03 đồng chí làm việc với H. Đông Anh về 1/2 số dự án chậm tiến độ.', 'Đoàn ba đồng chí làm việc với huyện Đông Anh về một nửa số dự án chậm tiến độ.'),
    ('Tỷ lệ bản đồ 1:2000, ngõ 45/7 nằm trong vùng quy hoạch.', 'Tỷ lệ bản đồ một trên hai nghìn, ngõ bốn mươi lăm trên bảy nằm trong vùng quy hoạch.'),
    ('Sản lượng 3,5 nghìn tấn, bằng 3/4 kế hoạch.', 'Sản lượng ba phẩy năm nghìn tấn, bằng ba phần tư kế hoạch.'),
    ('Phố 30/4 cấm xe từ 19h T7 đến 23h CN.', 'Phố ba mươi tháng tư cấm xe từ mười chín giờ thứ bảy đến hai mươi ba giờ chủ nhật.'),
    ('Nghị định 100/2019/NĐ-CP phạt từ 6-8 triệu đồng.', 'Nghị định một trăm năm hai nghìn không trăm mười chín nờ đê xê pê phạt từ sáu đến tám triệu đồng.'),
]

TABLES: dict[str, list[tuple[str, str]]] = {
    'FRACTIONS': FRACTIONS,
    'HOUSE_NUMBERS_AND_STREETS': HOUSE_NUMBERS_AND_STREETS,
    'DOCUMENT_NUMBERS': DOCUMENT_NUMBERS,
    'LEADING_ZEROS': LEADING_ZEROS,
    'PLACE_LETTERS': PLACE_LETTERS,
    'WEEKDAYS': WEEKDAYS,
    'ALARM_LEVELS': ALARM_LEVELS,
    'PHONES': PHONES,
    'SCALE_UNITS': SCALE_UNITS,
    'SCORES_AND_RATIOS': SCORES_AND_RATIOS,
    'DATES_IN_CONTEXT': DATES_IN_CONTEXT,
    'MIXED_BULLETINS': MIXED_BULLETINS,
}
CASES = [(name, text, spoken) for name, table in TABLES.items() for text, spoken in table]


@pytest.mark.parametrize(("table", "text", "spoken"), CASES, ids=[f"{c[0]}:{c[1][:40]}" for c in CASES])
def test_bulletin_class_spoken_form(table: str, text: str, spoken: str) -> None:
    assert normalize_for_speech(text) == spoken


def test_tables_are_large_and_distinct() -> None:
    assert len(CASES) >= 300
    inputs = [c[1] for c in CASES]
    assert len(set(inputs)) == len(inputs), "duplicate inputs across the tables"


@pytest.mark.parametrize(("table", "text", "spoken"), CASES, ids=[f"{c[0]}:{c[1][:40]}" for c in CASES])
def test_spoken_form_is_a_fixed_point(table: str, text: str, spoken: str) -> None:
    assert normalize_for_speech(spoken) == spoken
