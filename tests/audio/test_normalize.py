"""Vietnamese text normalization for radio (issue 3, item 1).

The table holds real bulletin language (weather, health, elections, agriculture, disasters,
administration, traffic) with the exact spoken form a Northern announcer would use.
Property tests check that normalization is total, idempotent and leaves no digit.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from audio.normalize import MAX_INPUT_CHARS, load_abbreviations, normalize_for_speech
from audio.numbers import read_decimal, read_digits, read_number, read_ordinal, roman_to_int
from protocol.errors import ConfigError, ValidationError

CASES: list[tuple[str, str]] = [
    # --- weather and storms ---
    ("Bão số 3 đang di chuyển theo hướng Tây Bắc.", "Bão số ba đang di chuyển theo hướng Tây Bắc."),
    ("Sức gió mạnh nhất cấp 12, giật cấp 15.", "Sức gió mạnh nhất cấp mười hai, giật cấp mười lăm."),
    ("Lượng mưa phổ biến 100-200 mm, có nơi trên 300 mm.", "Lượng mưa phổ biến một trăm đến hai trăm mi li mét, có nơi trên ba trăm mi li mét."),
    ("Nhiệt độ thấp nhất 20 - 25 độ C.", "Nhiệt độ thấp nhất hai mươi đến hai mươi lăm độ xê."),
    ("Nhiệt độ cao nhất 37°C.", "Nhiệt độ cao nhất ba mươi bảy độ xê."),
    ("Vùng núi cao có nơi dưới 3°C.", "Vùng núi cao có nơi dưới ba độ xê."),
    ("Có khả năng xuất hiện băng giá, nhiệt độ -2°C.", "Có khả năng xuất hiện băng giá, nhiệt độ âm hai độ xê."),
    ("Độ ẩm 85-90%.", "Độ ẩm tám mươi lăm đến chín mươi phần trăm."),
    ("Vị trí tâm bão ở khoảng 17,5 độ Vĩ Bắc; 112,3 độ Kinh Đông.", "Vị trí tâm bão ở khoảng mười bảy phẩy năm độ Vĩ Bắc; một trăm mười hai phẩy ba độ Kinh Đông."),
    ("Bão di chuyển với tốc độ 15-20 km/h.", "Bão di chuyển với tốc độ mười lăm đến hai mươi ki lô mét trên giờ."),
    ("Lúc 4h sáng nay", "Lúc bốn giờ sáng nay"),
    ("Trong 24h tới", "Trong hai mươi tư giờ tới"),
    ("Trong 24 đến 48 giờ tới", "Trong hai mươi tư đến bốn mươi tám giờ tới"),
    ("Từ đêm 5/9 đến ngày 7/9 có mưa to.", "Từ đêm mùng năm tháng chín đến ngày mùng bảy tháng chín có mưa to."),
    ("ATNĐ đã mạnh lên thành bão.", "áp thấp nhiệt đới đã mạnh lên thành bão."),
    ("Sóng biển cao 2-4 m, biển động rất mạnh.", "Sóng biển cao hai đến bốn mét, biển động rất mạnh."),
    ("Cảnh báo lũ quét, sạt lở đất tại các xã vùng núi.", "Cảnh báo lũ quét, sạt lở đất tại các xã vùng núi."),
    ("Mực nước sông Hồng tại Hà Nội lúc 7h là 9,85 m.", "Mực nước sông Hồng tại Hà Nội lúc bảy giờ là chín phẩy tám mươi lăm mét."),
    ("Tổng lượng mưa từ 19h ngày 8/9 đến 7h ngày 9/9 phổ biến 50-100 mm.", "Tổng lượng mưa từ mười chín giờ ngày mùng tám tháng chín đến bảy giờ ngày mùng chín tháng chín phổ biến năm mươi đến một trăm mi li mét."),
    ("Cấp độ rủi ro thiên tai cấp 3.", "Cấp độ rủi ro thiên tai cấp ba."),
    ("Gió Đông Bắc cấp 6, giật cấp 7-8.", "Gió Đông Bắc cấp sáu, giật cấp bảy đến tám."),
    ("Tầm nhìn xa dưới 1 km.", "Tầm nhìn xa dưới một ki lô mét."),
    ("Mưa 30-50 mm/24h.", "Mưa ba mươi đến năm mươi mi li mét trên hai mươi tư giờ."),
    ("Rét đậm, rét hại, nhiệt độ trung bình dưới 13 độ C.", "Rét đậm, rét hại, nhiệt độ trung bình dưới mười ba độ xê."),
    ("Không khí lạnh tăng cường, nhiệt độ giảm 5-7 độ.", "Không khí lạnh tăng cường, nhiệt độ giảm năm đến bảy độ."),
    ("Dự báo từ ngày 20-22/7 có mưa dông.", "Dự báo từ ngày hai mươi đến hai mươi hai tháng bảy có mưa dông."),
    ("Trong hai ngày 5-6/10 có mưa lớn.", "Trong hai ngày mùng năm và mùng sáu tháng mười có mưa lớn."),
    ("Đêm 14 và ngày 15/9, vùng biển có gió mạnh cấp 6.", "Đêm mười bốn và ngày mười lăm tháng chín, vùng biển có gió mạnh cấp sáu."),
    ("Tàu thuyền không ra khơi sau 17h00 hôm nay.", "Tàu thuyền không ra khơi sau mười bảy giờ hôm nay."),
    ("KTTV tỉnh phát bản tin lúc 16h30.", "khí tượng thủy văn tỉnh phát bản tin lúc mười sáu giờ ba mươi phút."),
    # --- health and vaccination ---
    ("Tiêm vắc-xin phòng Covid-19 mũi 3 cho người từ 18 tuổi trở lên.", "Tiêm vắc xin phòng cô vít mười chín mũi ba cho người từ mười tám tuổi trở lên."),
    ("TYT xã tổ chức tiêm chủng mở rộng vào ngày 15 hằng tháng.", "trạm y tế xã tổ chức tiêm chủng mở rộng vào ngày mười lăm hằng tháng."),
    ("Thời gian: từ 7h30 đến 11h00 ngày 20/3/2025.", "Thời gian: từ bảy giờ ba mươi phút đến mười một giờ ngày hai mươi tháng ba năm hai nghìn không trăm hai mươi lăm."),
    ("Trẻ em từ 6 tháng đến 5 tuổi", "Trẻ em từ sáu tháng đến năm tuổi"),
    ("Uống 2 lần/ngày, mỗi lần 1 viên.", "Uống hai lần một ngày, mỗi lần một viên."),
    ("Liều dùng 10 mg/kg cân nặng.", "Liều dùng mười mi li gam trên ki lô gam cân nặng."),
    ("Số ca mắc SXH tăng 15% so với cùng kỳ.", "Số ca mắc sốt xuất huyết tăng mười lăm phần trăm so với cùng kỳ."),
    ("Phát hiện 3 ổ dịch cúm A/H5N1 trên đàn gia cầm.", "Phát hiện ba ổ dịch cúm A hát năm en một trên đàn gia cầm."),
    ("Người dân có thẻ BHYT được hỗ trợ 100% chi phí.", "Người dân có thẻ bảo hiểm y tế được hỗ trợ một trăm phần trăm chi phí."),
    ("Tỷ lệ tiêm chủng đạt 95,5%.", "Tỷ lệ tiêm chủng đạt chín mươi lăm phẩy năm phần trăm."),
    ("Uống đủ 1,5-2 lít nước mỗi ngày.", "Uống đủ một phẩy năm đến hai lít nước mỗi ngày."),
    ("Hạn đóng BHXH tự nguyện là ngày 31/12.", "Hạn đóng bảo hiểm xã hội tự nguyện là ngày ba mươi mốt tháng mười hai."),
    ("Khám sàng lọc miễn phí cho NCT trên 60 tuổi.", "Khám sàng lọc miễn phí cho người cao tuổi trên sáu mươi tuổi."),
    ("Hotline của TTYT huyện: 0203.3851.115", "đường dây nóng của trung tâm y tế huyện: không hai không ba, ba tám năm một, một một năm"),
    ("Bệnh TCM thường gặp ở trẻ dưới 5 tuổi.", "Bệnh tay chân miệng thường gặp ở trẻ dưới năm tuổi."),
    ("Khi sốt trên 38,5 độ C cần đưa trẻ đến cơ sở y tế.", "Khi sốt trên ba mươi tám phẩy năm độ xê cần đưa trẻ đến cơ sở y tế."),
    ("Chiến dịch tiêm vắc-xin sởi - rubella diễn ra từ 10/4 đến 30/4.", "Chiến dịch tiêm vắc xin sởi, ru bê la diễn ra từ ngày mùng mười tháng tư đến ngày ba mươi tháng tư."),
    ("Phòng chống HIV/AIDS", "Phòng chống hát i vê ết"),
    ("Đã có 1.245 trẻ được tiêm vắc-xin sởi.", "Đã có một nghìn hai trăm bốn mươi lăm trẻ được tiêm vắc xin sởi."),
    ("Tiêm nhắc lại sau 4-6 tuần.", "Tiêm nhắc lại sau bốn đến sáu tuần."),
    ("Mỗi người rửa tay ít nhất 20 giây.", "Mỗi người rửa tay ít nhất hai mươi giây."),
    ("Trẻ dưới 1 tuổi cần được tiêm đủ 8 loại vắc-xin.", "Trẻ dưới một tuổi cần được tiêm đủ tám loại vắc xin."),
    ("Bổ sung vitamin A cho trẻ từ 6-36 tháng tuổi.", "Bổ sung vi ta min A cho trẻ từ sáu đến ba mươi sáu tháng tuổi."),
    ("Phun hóa chất diệt muỗi tại 12 thôn, 3.500 hộ.", "Phun hóa chất diệt muỗi tại mười hai thôn, ba nghìn năm trăm hộ."),
    ("Khám sức khỏe định kỳ cho người có thẻ BHYT từ ngày 1/6.", "Khám sức khỏe định kỳ cho người có thẻ bảo hiểm y tế từ ngày mùng một tháng sáu."),
    ("Theo khuyến cáo của WHO", "Theo khuyến cáo của Tổ chức Y tế Thế giới"),
    # --- elections ---
    ("Bầu cử đại biểu Quốc hội khóa XVI và đại biểu HĐND các cấp nhiệm kỳ 2026-2031.", "Bầu cử đại biểu Quốc hội khóa mười sáu và đại biểu hội đồng nhân dân các cấp nhiệm kỳ hai nghìn không trăm hai mươi sáu đến hai nghìn không trăm ba mươi mốt."),
    ("Ngày bầu cử là Chủ nhật, 15/3/2026.", "Ngày bầu cử là Chủ nhật, ngày mười lăm tháng ba năm hai nghìn không trăm hai mươi sáu."),
    ("Thời gian bỏ phiếu từ 7h00 đến 19h00.", "Thời gian bỏ phiếu từ bảy giờ đến mười chín giờ."),
    ("Đại hội Đảng bộ xã lần thứ XXV, nhiệm kỳ 2025-2030", "Đại hội Đảng bộ xã lần thứ hai mươi lăm, nhiệm kỳ hai nghìn không trăm hai mươi lăm đến hai nghìn không trăm ba mươi"),
    ("Đại hội đại biểu toàn quốc lần thứ XIII của Đảng", "Đại hội đại biểu toàn quốc lần thứ mười ba của Đảng"),
    ("Khu vực bỏ phiếu số 5 có 1.250 cử tri.", "Khu vực bỏ phiếu số năm có một nghìn hai trăm năm mươi cử tri."),
    ("Tỷ lệ cử tri đi bầu đạt 99,8%.", "Tỷ lệ cử tri đi bầu đạt chín mươi chín phẩy tám phần trăm."),
    ("UBMTTQVN xã tổ chức hội nghị hiệp thương lần thứ 3.", "ủy ban mặt trận tổ quốc Việt Nam xã tổ chức hội nghị hiệp thương lần thứ ba."),
    ("Danh sách cử tri được niêm yết từ ngày 3/2/2026.", "Danh sách cử tri được niêm yết từ ngày mùng ba tháng hai năm hai nghìn không trăm hai mươi sáu."),
    ("ĐBQH tiếp xúc cử tri tại nhà văn hóa thôn 4.", "đại biểu quốc hội tiếp xúc cử tri tại nhà văn hóa thôn bốn."),
    ("Kỳ họp thứ 8, Quốc hội khóa XV", "Kỳ họp thứ tám, Quốc hội khóa mười lăm"),
    ("Hội nghị Trung ương 10 khóa XIII", "Hội nghị Trung ương mười khóa mười ba"),
    ("Mỗi cử tri được bầu không quá 3 người.", "Mỗi cử tri được bầu không quá ba người."),
    ("Đại hội XIII của Đảng đã thành công tốt đẹp.", "Đại hội mười ba của Đảng đã thành công tốt đẹp."),
    ("Đơn vị bầu cử số 2 được bầu 3 đại biểu.", "Đơn vị bầu cử số hai được bầu ba đại biểu."),
    ("Lần thứ 1 tổ chức lấy ý kiến cử tri.", "Lần thứ nhất tổ chức lấy ý kiến cử tri."),
    ("Ứng cử viên thứ 4 trong danh sách", "Ứng cử viên thứ tư trong danh sách"),
    ("Cử tri từ đủ 18 tuổi trở lên có quyền bầu cử.", "Cử tri từ đủ mười tám tuổi trở lên có quyền bầu cử."),
    # --- agriculture and pests ---
    ("Giá lúa tăng lên 7.500 đồng/kg.", "Giá lúa tăng lên bảy nghìn năm trăm đồng một ki lô gam."),
    ("Năng suất đạt 65 tạ/ha.", "Năng suất đạt sáu mươi lăm tạ trên héc ta."),
    ("Diện tích gieo cấy 1.200 ha.", "Diện tích gieo cấy một nghìn hai trăm héc ta."),
    ("Rầy nâu mật độ 3.000-5.000 con/m2.", "Rầy nâu mật độ ba nghìn đến năm nghìn con trên mét vuông."),
    ("Phun thuốc BVTV khi mật độ sâu trên 50 con/m2.", "Phun thuốc bảo vệ thực vật khi mật độ sâu trên năm mươi con trên mét vuông."),
    ("Bón 8-10 kg đạm/sào.", "Bón tám đến mười ki lô gam đạm một sào."),
    ("HTX dịch vụ nông nghiệp thu mua lúa với giá 8.000đ/kg.", "hợp tác xã dịch vụ nông nghiệp thu mua lúa với giá tám nghìn đồng một ki lô gam."),
    ("Thời vụ gieo cấy vụ Xuân kết thúc trước ngày 15/2.", "Thời vụ gieo cấy vụ Xuân kết thúc trước ngày mười lăm tháng hai."),
    ("Tiêm phòng lở mồm long móng cho 2.500 con trâu, bò.", "Tiêm phòng lở mồm long móng cho hai nghìn năm trăm con trâu, bò."),
    ("Hỗ trợ 50% kinh phí mua giống lúa chất lượng cao.", "Hỗ trợ năm mươi phần trăm kinh phí mua giống lúa chất lượng cao."),
    ("Lượng nước tưới 500 m3/ha.", "Lượng nước tưới năm trăm mét khối trên héc ta."),
    ("Diện tích nhiễm bệnh đạo ôn là 12,5 ha.", "Diện tích nhiễm bệnh đạo ôn là mười hai phẩy năm héc ta."),
    ("Sản lượng đạt 1.520 tấn.", "Sản lượng đạt một nghìn năm trăm hai mươi tấn."),
    ("Giá lợn hơi 62.000-65.000 đồng/kg.", "Giá lợn hơi sáu mươi hai nghìn đến sáu mươi lăm nghìn đồng một ki lô gam."),
    ("Chuẩn bị lịch thời vụ vụ Mùa 2025", "Chuẩn bị lịch thời vụ vụ Mùa hai nghìn không trăm hai mươi lăm"),
    ("Phun phòng trừ bệnh khô vằn khi tỷ lệ bệnh trên 20% số dảnh.", "Phun phòng trừ bệnh khô vằn khi tỷ lệ bệnh trên hai mươi phần trăm số dảnh."),
    ("Sản xuất theo tiêu chuẩn VietGAP", "Sản xuất theo tiêu chuẩn việt gáp"),
    ("Ngô vụ Đông trồng trước 30/9.", "Ngô vụ Đông trồng trước ngày ba mươi tháng chín."),
    ("Mỗi sào Bắc Bộ là 360 m2.", "Mỗi sào Bắc Bộ là ba trăm sáu mươi mét vuông."),
    ("Tiêm phòng dại cho chó, mèo từ 3 tháng tuổi.", "Tiêm phòng dại cho chó, mèo từ ba tháng tuổi."),
    ("Tổng đàn gia cầm 125.000 con.", "Tổng đàn gia cầm một trăm hai mươi lăm nghìn con."),
    ("Khử trùng chuồng trại 2 lần/tuần.", "Khử trùng chuồng trại hai lần một tuần."),
    ("Bón lót 300-400 kg phân chuồng/sào.", "Bón lót ba trăm đến bốn trăm ki lô gam phân chuồng một sào."),
    ("Lúa trổ từ 25/4-5/5.", "Lúa trổ từ ngày hai mươi lăm tháng tư đến ngày mùng năm tháng năm."),
    ("Pha 20 ml thuốc với bình 16 lít.", "Pha hai mươi mi li lít thuốc với bình mười sáu lít."),
    ("Giá phân đạm 11.500 đ/kg.", "Giá phân đạm mười một nghìn năm trăm đồng một ki lô gam."),
    # --- disasters ---
    ("Huy động 200 cán bộ, chiến sĩ tham gia cứu hộ.", "Huy động hai trăm cán bộ, chiến sĩ tham gia cứu hộ."),
    ("Di dời khẩn cấp 1.350 hộ dân ra khỏi vùng nguy hiểm.", "Di dời khẩn cấp một nghìn ba trăm năm mươi hộ dân ra khỏi vùng nguy hiểm."),
    ("Lũ trên sông Thao tại Yên Bái lên mức báo động 3.", "Lũ trên sông Thao tại Yên Bái lên mức báo động ba."),
    ("Cảnh báo lũ quét, sạt lở đất cấp 1.", "Cảnh báo lũ quét, sạt lở đất cấp một."),
    ("Ban chỉ huy PCTT&TKCN xã yêu cầu các thôn trực 24/24h.", "Ban chỉ huy phòng chống thiên tai và tìm kiếm cứu nạn xã yêu cầu các thôn trực hai mươi tư trên hai mươi tư giờ."),
    ("Động đất mạnh 4,5 độ richter", "Động đất mạnh bốn phẩy năm độ rích te"),
    ("Mọi thông tin liên hệ Đường dây nóng: 0912.345.678", "Mọi thông tin liên hệ Đường dây nóng: không chín một hai, ba bốn năm, sáu bảy tám"),
    ("Gọi ngay 114 khi có cháy.", "Gọi ngay một một bốn khi có cháy."),
    ("Số điện thoại cứu hộ: 112", "Số điện thoại cứu hộ: một một hai"),
    ("Thiệt hại ước tính 1,2 tỷ đồng.", "Thiệt hại ước tính một phẩy hai tỷ đồng."),
    ("Hỗ trợ 5 triệu đồng/hộ có nhà bị sập.", "Hỗ trợ năm triệu đồng một hộ có nhà bị sập."),
    ("Số nhà bị tốc mái: 235 căn.", "Số nhà bị tốc mái: hai trăm ba mươi lăm căn."),
    ("Hồ chứa đạt 95% dung tích thiết kế.", "Hồ chứa đạt chín mươi lăm phần trăm dung tích thiết kế."),
    ("Xả lũ với lưu lượng 1.500 m3/s.", "Xả lũ với lưu lượng một nghìn năm trăm mét khối trên giây."),
    ("Cấm các phương tiện có tải trọng trên 10 tấn.", "Cấm các phương tiện có tải trọng trên mười tấn."),
    ("Có 113 hộ bị ngập sâu.", "Có một trăm mười ba hộ bị ngập sâu."),
    ("Triều cường dâng cao 0,3-0,5 m.", "Triều cường dâng cao không phẩy ba đến không phẩy năm mét."),
    ("Cháy rừng thiêu rụi 2,5 ha rừng thông.", "Cháy rừng thiêu rụi hai phẩy năm héc ta rừng thông."),
    ("Hạn hán kéo dài, 30% diện tích lúa thiếu nước.", "Hạn hán kéo dài, ba mươi phần trăm diện tích lúa thiếu nước."),
    ("Sơ tán trước 18h ngày 10/9/2024.", "Sơ tán trước mười tám giờ ngày mùng mười tháng chín năm hai nghìn không trăm hai mươi tư."),
    # --- administrative notices ---
    ("UBND xã thông báo lịch tiếp công dân.", "ủy ban nhân dân xã thông báo lịch tiếp công dân."),
    ("Căn cứ Nghị định số 100/2019/NĐ-CP của Chính phủ", "Căn cứ Nghị định số một trăm năm hai nghìn không trăm mười chín nờ đê xê pê của Chính phủ"),
    ("Theo Quyết định số 1234/QĐ-UBND ngày 15/8/2024", "Theo Quyết định số một nghìn hai trăm ba mươi tư quy đê ủy ban nhân dân ngày mười lăm tháng tám năm hai nghìn không trăm hai mươi tư"),
    ("V/v tổ chức Tết Trung thu năm 2024", "về việc tổ chức Tết Trung thu năm hai nghìn không trăm hai mươi tư"),
    ("Đ/c Nguyễn Văn A, Chủ tịch UBND xã", "đồng chí Nguyễn Văn A, Chủ tịch ủy ban nhân dân xã"),
    ("TP. Hà Nội", "thành phố Hà Nội"),
    ("TX. Sơn Tây", "thị xã Sơn Tây"),
    ("TT. Văn Giang", "thị trấn Văn Giang"),
    ("Đoàn công tác TP.HCM", "Đoàn công tác thành phố Hồ Chí Minh"),
    ("Học sinh THCS và THPT", "Học sinh trung học cơ sở và trung học phổ thông"),
    ("Người dân mang theo CCCD khi đến làm thủ tục.", "Người dân mang theo căn cước công dân khi đến làm thủ tục."),
    ("Kích hoạt tài khoản định danh điện tử VNeID mức 2", "Kích hoạt tài khoản định danh điện tử vê en e ai đi mức hai"),
    ("Nộp hồ sơ trước 17h ngày 30/6.", "Nộp hồ sơ trước mười bảy giờ ngày ba mươi tháng sáu."),
    ("Thời gian làm việc: sáng từ 7h30 đến 11h30, chiều từ 13h30 đến 17h.", "Thời gian làm việc: sáng từ bảy giờ ba mươi phút đến mười một giờ ba mươi phút, chiều từ mười ba giờ ba mươi phút đến mười bảy giờ."),
    ("Tiếp công dân vào thứ 2 và thứ 5 hằng tuần.", "Tiếp công dân vào thứ hai và thứ năm hằng tuần."),
    ("Làm việc từ thứ 2 đến thứ 6.", "Làm việc từ thứ hai đến thứ sáu."),
    ("Lịch trực: thứ 2-6", "Lịch trực: thứ hai đến thứ sáu"),
    ("Lệ phí 50.000 đồng/hồ sơ.", "Lệ phí năm mươi nghìn đồng một hồ sơ."),
    ("Hộ nghèo được hỗ trợ 200.000 VNĐ/tháng", "Hộ nghèo được hỗ trợ hai trăm nghìn đồng một tháng"),
    ("Mức phạt từ 4-6 triệu đồng.", "Mức phạt từ bốn đến sáu triệu đồng."),
    ("Phạt tiền từ 800.000 đồng đến 1.000.000 đồng.", "Phạt tiền từ tám trăm nghìn đồng đến một triệu đồng."),
    ("Thu phí vệ sinh 20.000đ/tháng/hộ", "Thu phí vệ sinh hai mươi nghìn đồng một tháng một hộ"),
    ("Kinh phí thực hiện 1.250.000.000 đồng.", "Kinh phí thực hiện một tỷ hai trăm năm mươi triệu đồng."),
    ("Dự án có tổng vốn 15 tỷ đồng.", "Dự án có tổng vốn mười lăm tỷ đồng."),
    ("Giá trị hợp đồng 2.350.500.000 đ", "Giá trị hợp đồng hai tỷ ba trăm năm mươi triệu năm trăm nghìn đồng"),
    ("Thông báo số 25/TB-UBND", "Thông báo số hai mươi lăm tê bê ủy ban nhân dân"),
    ("Kế hoạch số 12/KH-UBND ngày 10/01/2025", "Kế hoạch số mười hai ca hát ủy ban nhân dân ngày mùng mười tháng một năm hai nghìn không trăm hai mươi lăm"),
    ("Công văn 345/UBND-VP", "Công văn ba trăm bốn mươi lăm ủy ban nhân dân vê pê"),
    ("Thu thuế sử dụng đất phi nông nghiệp đến hết tháng 10.", "Thu thuế sử dụng đất phi nông nghiệp đến hết tháng mười."),
    ("Quý IV/2024 hoàn thành 100% kế hoạch.", "Quý bốn năm hai nghìn không trăm hai mươi tư hoàn thành một trăm phần trăm kế hoạch."),
    ("Họp tổ dân phố số 7 lúc 19h30.", "Họp tổ dân phố số bảy lúc mười chín giờ ba mươi phút."),
    ("MTTQ và các đoàn thể phối hợp tuyên truyền.", "mặt trận tổ quốc và các đoàn thể phối hợp tuyên truyền."),
    ("Hội Cựu chiến binh, ĐTN, HLHPN xã", "Hội Cựu chiến binh, đoàn thanh niên, hội liên hiệp phụ nữ xã"),
    ("Tra cứu tại dichvucong.gov.vn", "Tra cứu tại dichvucong chấm gov chấm vn"),
    ("Thanh niên sinh năm 2007 đăng ký NVQS.", "Thanh niên sinh năm hai nghìn không trăm lẻ bảy đăng ký nghĩa vụ quân sự."),
    ("Khám tuyển NVQS năm 2025 từ ngày 1-15/11/2024.", "Khám tuyển nghĩa vụ quân sự năm hai nghìn không trăm hai mươi lăm từ ngày mùng một đến mười lăm tháng mười một năm hai nghìn không trăm hai mươi tư."),
    ("Phường 3, Quận 10", "Phường ba, Quận mười"),
    # --- traffic ---
    ("Tốc độ tối đa 50 km/h trong khu dân cư.", "Tốc độ tối đa năm mươi ki lô mét trên giờ trong khu dân cư."),
    ("CSGT huyện ra quân xử lý vi phạm nồng độ cồn.", "cảnh sát giao thông huyện ra quân xử lý vi phạm nồng độ cồn."),
    ("Nồng độ cồn vượt quá 0,4 mg/lít khí thở", "Nồng độ cồn vượt quá không phẩy bốn mi li gam trên lít khí thở"),
    ("Nồng độ cồn trong máu vượt quá 80 mg/100 ml máu", "Nồng độ cồn trong máu vượt quá tám mươi mi li gam trên một trăm mi li lít máu"),
    ("Tai nạn giao thông làm 2 người chết, 3 người bị thương.", "Tai nạn giao thông làm hai người chết, ba người bị thương."),
    ("Đoạn QL1A qua xã đang sửa chữa.", "Đoạn quốc lộ một A qua xã đang sửa chữa."),
    ("Phân luồng giao thông tại Km 25+500 QL 6", "Phân luồng giao thông tại ki lô mét hai mươi lăm cộng năm trăm quốc lộ sáu"),
    ("Phạt 18-20 triệu đồng với ô tô vi phạm.", "Phạt mười tám đến hai mươi triệu đồng với ô tô vi phạm."),
    ("Xe trọng tải trên 2,5 tấn cấm lưu thông từ 6h-20h.", "Xe trọng tải trên hai phẩy năm tấn cấm lưu thông từ sáu giờ đến hai mươi giờ."),
    ("Thu hồi GPLX có thời hạn từ 10-12 tháng.", "Thu hồi giấy phép lái xe có thời hạn từ mười đến mười hai tháng."),
    ("Trong 9 tháng đầu năm 2024 xảy ra 15 vụ TNGT.", "Trong chín tháng đầu năm hai nghìn không trăm hai mươi tư xảy ra mười lăm vụ tai nạn giao thông."),
    ("Đường tỉnh TL 295 bị ngập 0,5 m.", "Đường tỉnh tỉnh lộ hai trăm chín mươi lăm bị ngập không phẩy năm mét."),
    ("Cầu yếu, chỉ cho xe dưới 5 tấn qua.", "Cầu yếu, chỉ cho xe dưới năm tấn qua."),
    ("Người đi xe máy phải đội mũ bảo hiểm.", "Người đi xe máy phải đội mũ bảo hiểm."),
    ("Cấm đường từ 22h ngày 5/3 đến 5h ngày 6/3.", "Cấm đường từ hai mươi hai giờ ngày mùng năm tháng ba đến năm giờ ngày mùng sáu tháng ba."),
    # --- dates and times ---
    ("25/12/2024", "ngày hai mươi lăm tháng mười hai năm hai nghìn không trăm hai mươi tư"),
    ("2/9", "ngày mùng hai tháng chín"),
    ("01/7/2025", "ngày mùng một tháng bảy năm hai nghìn không trăm hai mươi lăm"),
    ("ngày 5-6/10", "ngày mùng năm và mùng sáu tháng mười"),
    ("từ ngày 20-25/11", "từ ngày hai mươi đến hai mươi lăm tháng mười một"),
    ("ngày 30/4 và 1/5", "ngày ba mươi tháng tư và ngày mùng một tháng năm"),
    ("ngày 10/10/2024", "ngày mùng mười tháng mười năm hai nghìn không trăm hai mươi tư"),
    ("tháng 12/2024", "tháng mười hai năm hai nghìn không trăm hai mươi tư"),
    ("Quý 1/2025", "Quý một năm hai nghìn không trăm hai mươi lăm"),
    ("từ 15/01 đến 15/02/2025", "từ ngày mười lăm tháng một đến ngày mười lăm tháng hai năm hai nghìn không trăm hai mươi lăm"),
    ("mùng 2/9", "mùng hai tháng chín"),
    ("ngày 2 tháng 9 năm 1945", "ngày mùng hai tháng chín năm một nghìn chín trăm bốn mươi lăm"),
    ("tháng 4 năm 1975", "tháng tư năm một nghìn chín trăm bảy mươi lăm"),
    ("Rằm tháng 8 âm lịch", "Rằm tháng tám âm lịch"),
    ("ngày 15/1 âm lịch", "ngày mười lăm tháng giêng âm lịch"),
    ("ngày 23/12 âm lịch", "ngày hai mươi ba tháng chạp âm lịch"),
    ("ngày 15/1 ÂL", "ngày mười lăm tháng giêng âm lịch"),
    ("25-12-2024", "ngày hai mươi lăm tháng mười hai năm hai nghìn không trăm hai mươi tư"),
    ("25.12.2024", "ngày hai mươi lăm tháng mười hai năm hai nghìn không trăm hai mươi tư"),
    ("20/10-25/10/2024", "ngày hai mươi tháng mười đến ngày hai mươi lăm tháng mười năm hai nghìn không trăm hai mươi tư"),
    ("sáng 5/9", "sáng mùng năm tháng chín"),
    ("7h30", "bảy giờ ba mươi phút"),
    ("17:00", "mười bảy giờ"),
    ("6h", "sáu giờ"),
    ("7h05", "bảy giờ năm phút"),
    ("19:45", "mười chín giờ bốn mươi lăm phút"),
    ("7g30", "bảy giờ ba mươi phút"),
    ("0h", "không giờ"),
    ("13h30'", "mười ba giờ ba mươi phút"),
    ("8:15:30", "tám giờ mười lăm phút ba mươi giây"),
    ("từ 7h-9h", "từ bảy giờ đến chín giờ"),
    ("lúc 21h ngày 31/12", "lúc hai mươi mốt giờ ngày ba mươi mốt tháng mười hai"),
    ("Ngày 11/11 hằng năm", "Ngày mười một tháng mười một hằng năm"),
    ("32/13 không phải ngày", "ba mươi hai trên mười ba không phải ngày"),
    # --- numbers ---
    ("1.500.000", "một triệu năm trăm nghìn"),
    ("1.000.005", "một triệu không trăm lẻ năm"),
    ("105", "một trăm lẻ năm"),
    ("2024", "hai nghìn không trăm hai mươi tư"),
    ("94,5", "chín mươi tư phẩy năm"),
    ("0,05", "không phẩy không năm"),
    ("15%", "mười lăm phần trăm"),
    ("2,5%", "hai phẩy năm phần trăm"),
    ("50-60 triệu", "năm mươi đến sáu mươi triệu"),
    ("từ 7-10 ngày", "từ bảy đến mười ngày"),
    ("3,14", "ba phẩy mười bốn"),
    ("1,234", "một phẩy hai ba bốn"),
    ("số 3", "số ba"),
    ("lần thứ 1", "lần thứ nhất"),
    ("thứ 4", "thứ tư"),
    ("thứ 7", "thứ bảy"),
    ("Quý IV", "Quý bốn"),
    ("Đại hội XIII", "Đại hội mười ba"),
    ("khóa XV", "khóa mười lăm"),
    ("thế kỷ XXI", "thế kỷ hai mươi mốt"),
    ("1.000.000.000", "một tỷ"),
    ("12.345.678", "mười hai triệu ba trăm bốn mươi lăm nghìn sáu trăm bảy mươi tám"),
    ("lô 05", "lô không năm"),
    ("0", "không"),
    ("1,500,000", "một triệu năm trăm nghìn"),
    ("khoảng 1.5 triệu", "khoảng một phẩy năm triệu"),
    ("mục 2.3.1", "mục hai chấm ba chấm một"),
    ("Điều 5", "Điều năm"),
    ("2x3 m", "hai nhân ba mét"),
    ("~50 mm", "khoảng năm mươi mi li mét"),
    (">40 độ C", "trên bốn mươi độ xê"),
    ("1.000.000.000.000 đồng", "một nghìn tỷ đồng"),
    ("21 hộ", "hai mươi mốt hộ"),
    ("115 người", "một trăm mười lăm người"),
    ("thứ 2, 4, 6", "thứ hai, thứ tư, thứ sáu"),
    # --- phone numbers ---
    ("0912 345 678", "không chín một hai, ba bốn năm, sáu bảy tám"),
    ("0243.826.123", "không hai bốn ba, tám hai sáu, một hai ba"),
    ("hotline 113", "đường dây nóng một một ba"),
    ("1900 1234", "một chín không không, một hai ba bốn"),
    ("+84 912 345 678", "cộng tám bốn, chín một hai, ba bốn năm, sáu bảy tám"),
    ("0912-345-678", "không chín một hai, ba bốn năm, sáu bảy tám"),
    ("Gọi 115 khi cần cấp cứu", "Gọi một một năm khi cần cấp cứu"),
    ("Tổng đài 1022", "Tổng đài một không hai hai"),
    ("ĐT: 0912345678", "điện thoại không chín một hai ba bốn năm sáu bảy tám"),
    # --- units ---
    ("5 km", "năm ki lô mét"),
    ("3 ha", "ba héc ta"),
    ("120 mm", "một trăm hai mươi mi li mét"),
    ("15 cm", "mười lăm xen ti mét"),
    ("100 m", "một trăm mét"),
    ("50 m2", "năm mươi mét vuông"),
    ("50 m²", "năm mươi mét vuông"),
    ("20 m3", "hai mươi mét khối"),
    ("10 kg", "mười ki lô gam"),
    ("3 tấn", "ba tấn"),
    ("500 mg", "năm trăm mi li gam"),
    ("250 ml", "hai trăm năm mươi mi li lít"),
    ("2 lít", "hai lít"),
    ("60 km/h", "sáu mươi ki lô mét trên giờ"),
    ("25°C", "hai mươi lăm độ xê"),
    ("25 độ C", "hai mươi lăm độ xê"),
    ("5km", "năm ki lô mét"),
    ("200g", "hai trăm gam"),
    ("220V", "hai trăm hai mươi vôn"),
    ("1.000 km²", "một nghìn ki lô mét vuông"),
    ("200.000 VND", "hai trăm nghìn đồng"),
    ("50.000 đồng", "năm mươi nghìn đồng"),
    ("100 USD", "một trăm đô la Mỹ"),
    # --- markup, control characters, other scripts, punctuation, capitals ---
    ('<speak>Xin chào <break time="1s"/> bà con</speak>', "Xin chào. bà con"),
    ("<b>Thông báo</b> khẩn", "Thông báo khẩn"),
    ("Xin\x00 chào\x07 bà con", "Xin chào bà con"),
    ("Bà   con\t\tchú ý", "Bà con chú ý"),
    ("Thông báo 通知 khẩn", "Thông báo khẩn"),
    ("Внимание: mưa lớn", "mưa lớn"),
    ("Xin chào 👋 bà con", "Xin chào bà con"),
    ("THÔNG BÁO\nLịch tiêm chủng", "thông báo. Lịch tiêm chủng"),
    ("Chú ý!!! Chú ý!!!", "Chú ý! Chú ý!"),
    ("a &lt;b&gt; c", "a c"),
    ("Ông Müller", "Ông Muller"),
    ("(UBND xã)", "ủy ban nhân dân xã"),
    ("“Ngày hội toàn dân bảo vệ an ninh Tổ quốc”", "Ngày hội toàn dân bảo vệ an ninh Tổ quốc"),
    ("UBND XÃ THÔNG BÁO", "ủy ban nhân dân xã thông báo"),
    ("Kênh VTV1", "Kênh vê tê vê một"),
    ("Chương trình của VOV", "Chương trình của vê o vê"),
    ("I. TÌNH HÌNH CHUNG\nII. NHIỆM VỤ", "một. tình hình chung. hai. nhiệm vụ"),
    ("- Các hộ dân\n- Các cơ quan", "Các hộ dân. Các cơ quan"),
    ("Xin\u200bchào", "Xin chào"),
    ("Thông báo…", "Thông báo…"),
    ("Ngày mai , trời nắng .", "Ngày mai, trời nắng."),
]


NUMBERS: list[tuple[int, str]] = [
    (0, "không"), (1, "một"), (4, "bốn"), (5, "năm"), (10, "mười"), (11, "mười một"), (14, "mười bốn"),
    (15, "mười lăm"), (20, "hai mươi"), (21, "hai mươi mốt"), (24, "hai mươi tư"), (25, "hai mươi lăm"),
    (31, "ba mươi mốt"), (55, "năm mươi lăm"), (99, "chín mươi chín"), (100, "một trăm"),
    (101, "một trăm lẻ một"), (104, "một trăm lẻ bốn"), (105, "một trăm lẻ năm"), (110, "một trăm mười"),
    (111, "một trăm mười một"), (115, "một trăm mười lăm"), (121, "một trăm hai mươi mốt"),
    (1000, "một nghìn"), (1001, "một nghìn không trăm lẻ một"), (1010, "một nghìn không trăm mười"),
    (1100, "một nghìn một trăm"), (1945, "một nghìn chín trăm bốn mươi lăm"),
    (2000, "hai nghìn"), (2024, "hai nghìn không trăm hai mươi tư"), (2025, "hai nghìn không trăm hai mươi lăm"),
    (10_000, "mười nghìn"), (15_000, "mười lăm nghìn"), (21_000, "hai mươi mốt nghìn"),
    (100_000, "một trăm nghìn"), (1_000_000, "một triệu"), (1_000_005, "một triệu không trăm lẻ năm"),
    (1_500_000, "một triệu năm trăm nghìn"), (1_050_000, "một triệu không trăm năm mươi nghìn"),
    (3_005_000, "ba triệu không trăm lẻ năm nghìn"), (1_200_000_000, "một tỷ hai trăm triệu"),
    (2_000_000_000, "hai tỷ"), (1_000_000_000_000, "một nghìn tỷ"), (-5, "âm năm"),
]


@pytest.mark.parametrize(("text", "spoken"), CASES, ids=[c[0][:40] for c in CASES])
def test_bulletin_spoken_form(text: str, spoken: str) -> None:
    assert normalize_for_speech(text) == spoken


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 200
    assert len({c[0] for c in CASES}) == len(CASES), "duplicate inputs in the table"


@pytest.mark.parametrize(("n", "spoken"), NUMBERS)
def test_read_number(n: int, spoken: str) -> None:
    assert read_number(n) == spoken


def test_number_helpers() -> None:
    assert read_digits("0912") == "không chín một hai"
    assert read_decimal("94", "5") == "chín mươi tư phẩy năm"
    assert read_decimal("1", "25") == "một phẩy hai mươi lăm"
    assert read_decimal("0", "05") == "không phẩy không năm"
    assert read_ordinal(1) == "nhất" and read_ordinal(4) == "tư" and read_ordinal(2) == "hai"
    assert read_number(10**18) == "một " + " ".join(["không"] * 18)
    assert [roman_to_int(r) for r in ("IV", "XIII", "XV", "XXI", "MCMXLV")] == [4, 13, 15, 21, 1945]
    assert [roman_to_int(r) for r in ("IIII", "VX", "IC", "", "ABC")] == [None] * 5


def test_output_is_nfc_for_decomposed_input() -> None:
    decomposed = unicodedata.normalize("NFD", "Thông báo khẩn: mưa lớn ở Hà Nội")
    out = normalize_for_speech(decomposed)
    assert out == "Thông báo khẩn: mưa lớn ở Hà Nội"
    assert unicodedata.is_normalized("NFC", out)


# --- nothing to read ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "   ", "\n\t \r\n", "<p> </p>", "<speak><break time='2s'/></speak>",
                                  "通知通知", "Внимание", "!!! ... ,,,", "\x00\x01\x02", "👋🙂"])
def test_nothing_speakable_is_a_bilingual_validation_error(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalize_for_speech(text)
    assert info.value.code == "invalid_input"
    assert "đọc" in info.value.vi and "read" in info.value.en


def test_not_a_string_and_too_long_are_refused() -> None:
    with pytest.raises(ValidationError):
        normalize_for_speech(None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as info:
        normalize_for_speech("a" * (MAX_INPUT_CHARS + 1))
    assert "dài" in info.value.vi and "long" in info.value.en


# --- 100,000 characters: bounded, linear ------------------------------------------------------

@pytest.mark.parametrize("unit", [
    "Bão số 3 gây mưa 100-200 mm, UBND xã yêu cầu sơ tán trước 17h ngày 25/12/2024. ",
    "1", "1.", "1,", "1-", "/1", "<", "<a ", "a.", "TP.", "A", "0912 ", "-", " ", "&amp;", "thứ 2, ", "H5N1",
])
def test_hundred_thousand_characters_is_bounded(unit: str) -> None:
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    started = time.perf_counter()
    try:
        out = normalize_for_speech(text)
    except ValidationError:
        out = ""
    elapsed = time.perf_counter() - started
    assert not any("0" <= ch <= "9" for ch in out)
    # Generous: linear code takes about a second here; quadratic code takes minutes.
    assert elapsed < 30, f"{elapsed:.1f}s for 100,000 characters of {unit!r}"


# --- properties --------------------------------------------------------------------------------

FRAGMENTS = [
    "UBND", "xã", "thông báo", " ", ", ", ". ", "\n", "25/12/2024", "2/9", "7h30", "17:00", "1.500.000",
    "94,5", "15%", "50-60", "triệu", "đồng", "0912 345 678", "km/h", "m2", "°C", "độ C", "thứ 2", "lần thứ 1",
    "Quý IV", "khóa XV", "TP.", "Covid-19", "<b>", "</b>", "&amp;", "-", "/", "(", ")", "“", "…", "ngày",
    "tháng", "năm", "số", "113", "1900 1234", "HĐND", "VTV", "A", "x", "+", "~", ">", "<", "'", "h", "Km",
    "âm lịch", "2024-2025", "5-6/10", "0", "00", "9", "1.5", "3.2.1", "100/2019/NĐ-CP", "đ/kg", "kg/ha",
    "T2", "T7", "CN", "BĐ2", "BĐIII", "P.", "Q.", "X.", "H.", "(024)", "(", "hòa", "thắng", "1-1", "4-2", "tỷ lệ",
    "tỷ số", "1:500", "3/5", "1/2", "diện tích", "số", "ngách", "số nhà", "đường", "phố", "07", "09 phút", "02",
    "QĐ-TTg", "/2024/", "TT-BYT", "nghìn", "triệu", "ha", "km", "m3", "hoặc", "113, 114", "Tân Lập",
]
fragment_text = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=25).map("".join)
mixed_text = st.text(
    alphabet=st.sampled_from(list("0123456789 .,;:/-–%°²hgmkđĐaăâeêioôơuưyAĂÂEÊIOÔƠUƯYbcdlnpqrstvx"
                                  "ÀÁẢÃẠàáảãạềếểễệờớởỡợ()<>&'\"\n\t?!…+~xX×IVXLC")),
    max_size=120)
any_text = st.one_of(fragment_text, mixed_text, st.text(max_size=200))


def _normalize_or_none(text: str) -> str | None:
    try:
        return normalize_for_speech(text)
    except ValidationError:
        return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_text)
@example("1.500.000+ha")  # hypothesis found it: '+' dropped by punctuation left "nghìn ha" for a second pass
def test_total_idempotent_and_digit_free(text: str) -> None:
    out = _normalize_or_none(text)
    if out is None:
        return  # the one documented refusal: nothing speakable
    assert out and out == out.strip()
    assert not any("0" <= ch <= "9" for ch in out), out
    assert "<" not in out and ">" not in out
    assert unicodedata.is_normalized("NFC", out)
    assert normalize_for_speech(out) == out


def _no_letter_even_after_nfkc(ch: str) -> bool:
    # NFKC (which the normalizer applies) makes letters of some symbols: Ⓐ → A, ℡ → TEL.
    return not any(unicodedata.category(x)[0] in "LN" for x in unicodedata.normalize("NFKC", ch))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("L", "N"), blacklist_characters="%‰&=±")
               .filter(_no_letter_even_after_nfkc), max_size=50))
def test_text_without_letters_or_digits_is_refused(text: str) -> None:
    # Symbols that are read as words (% "phần trăm", & "và", = "bằng", ± "cộng trừ") are left out.
    assert _normalize_or_none(text) is None


# --- abbreviations dictionary ------------------------------------------------------------------

def test_shipped_dictionary_loads_and_values_are_already_spoken() -> None:
    abbreviations = load_abbreviations(system_path=None)
    assert abbreviations["UBND"] == "ủy ban nhân dân"
    assert len(abbreviations) >= 100
    for key, value in abbreviations.items():
        assert unicodedata.is_normalized("NFC", value), key
        assert normalize_for_speech(value) == value, key


def _write(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def test_dictionary_layers_add_override_and_remove(tmp_path: Path) -> None:
    system = _write(tmp_path / "system.toml",
                    '[abbreviations]\n"HTX" = "hợp tác xã nông nghiệp"\n"CA" = ""\n"ĐVTN" = "đoàn viên thanh niên"\n')
    extra = _write(tmp_path / "extra.toml", '[abbreviations]\n"KP" = "khu phố"\n')
    merged = load_abbreviations(extra, system_path=system)
    assert merged["HTX"] == "hợp tác xã nông nghiệp"
    assert merged["ĐVTN"] == "đoàn viên thanh niên"
    assert merged["KP"] == "khu phố"
    assert "CA" not in merged
    assert merged["UBND"] == "ủy ban nhân dân"
    assert normalize_for_speech("ĐVTN KP 3 tham gia", merged) == "đoàn viên thanh niên khu phố ba tham gia"


def test_missing_system_file_is_fine_but_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    assert load_abbreviations(system_path=tmp_path / "absent.toml")["UBND"] == "ủy ban nhân dân"
    with pytest.raises(ConfigError) as info:
        load_abbreviations(tmp_path / "absent.toml", system_path=None)
    assert info.value.vi and info.value.en


@pytest.mark.parametrize("body", [
    "[abbreviations\n",                                  # broken TOML
    '[abbreviations]\n"UBND" = 3\n',                     # not a string
    '[abbreviations]\n" UBND" = "x"\n',                  # stray spaces in the key
    '[abbreviations]\n"X" = "<b>x</b>"\n',               # markup in the spoken form
    '[other]\n"X" = "y"\n',                              # wrong table
    '"X" = "y"\n',                                       # no table at all
])
def test_malformed_dictionary_is_a_bilingual_config_error(tmp_path: Path, body: str) -> None:
    path = _write(tmp_path / "bad.toml", body)
    with pytest.raises(ConfigError) as info:
        load_abbreviations(path, system_path=None)
    assert str(path) in info.value.vi and str(path) in info.value.en


def test_matching_is_case_aware_and_word_bounded() -> None:
    custom = {"UBND": "ủy ban nhân dân", "covid-19": "cô vít mười chín", "TP.": "thành phố"}
    assert normalize_for_speech("COVID-19 và Covid-19", custom) == "cô vít mười chín và cô vít mười chín"
    # Capitalised keys match their case only; "ubnd" in lower case is not the abbreviation.
    assert normalize_for_speech("ubnd UBND", custom) == "ubnd ủy ban nhân dân"
    # Whole words only: UBNDX is another acronym, spelled out.
    assert "ủy ban" not in normalize_for_speech("UBNDX", custom)
    assert normalize_for_speech("TP.Vinh", custom) == "thành phố Vinh"
    # No dictionary at all: unknown acronyms are spelled in Vietnamese.
    assert normalize_for_speech("UBND xã", {}) == "u bê nờ đê xã"


def test_default_dictionary_is_used_when_none_given() -> None:
    assert normalize_for_speech("UBND") == "ủy ban nhân dân"


# --- the engine stays in Vietnamese -------------------------------------------------------------

SAMPLE_BULLETINS = [
    "UBND xã thông báo: Bão số 3 đổ bộ lúc 7h30 ngày 25/12/2024, gió cấp 12, giật cấp 15, mưa 100-200 mm.",
    "TYT xã tiêm vắc-xin Covid-19 cho người từ 18 tuổi, từ 7h-11h ngày 5-6/10. Hotline: 0912 345 678.",
    "Bầu cử ĐBQH khóa XVI và HĐND các cấp ngày 15/3/2026; tỷ lệ cử tri đi bầu đạt 99,8%.",
    "Giá lúa 7.500 đồng/kg, năng suất 65 tạ/ha; phun thuốc BVTV khi mật độ rầy trên 3.000 con/m2.",
    "CSGT xử lý xe vượt quá 50 km/h; phạt 18-20 triệu đồng; thu hồi GPLX từ 10-12 tháng.",
    "Nhiệt độ 20 - 25 độ C, vùng núi dưới 3°C; lượng mưa 30-50 mm, sóng cao 2-4 m.",
]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (./dev installs it)")
@pytest.mark.parametrize("text", SAMPLE_BULLETINS)
def test_espeak_reads_output_in_vietnamese_only(text: str) -> None:
    spoken = normalize_for_speech(text)
    phonemes = subprocess.run(["espeak-ng", "-v", "vi", "-q", "-x", spoken],
                              capture_output=True, text=True, timeout=60, check=True).stdout
    assert phonemes.strip()
    # espeak-ng marks a language switch as "(en)"; bare espeak on the raw text does switch.
    assert "(en)" not in phonemes, phonemes
