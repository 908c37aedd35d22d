"""Text to broadcast-ready audio: a 300-word bulletin through normalization, TTS and preparation.

Compared in the same run with bare ``espeak-ng -v vi -s RATE -w`` on the same (normalized)
text, so the figures say what our safety (killable worker, guard, loudness, chime, atomic
writes) costs over the engine alone. Targets on the development machine: at least 20x faster
than real time end to end (engine start included), a cache hit under 20 ms.

    .venv/bin/python bench/tts.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.state import config as config_module  # noqa: E402
from audio.prepare import Preparer  # noqa: E402
from audio.tts import Synthesizer  # noqa: E402

BULLETIN = """\
Kính thưa bà con nhân dân trong xã. Sau đây là bản tin của Đài truyền thanh xã sáng ngày 25/12/2024.
Tin thời tiết. Theo Đài Khí tượng Thủy văn tỉnh, hôm nay trời nhiều mây, có mưa rào và dông rải rác, \
nhiệt độ thấp nhất từ 18-20°C, cao nhất 25-27°C.
Tin nông nghiệp. Vụ Đông Xuân năm nay toàn xã gieo cấy khoảng 512,5 ha lúa. UBND xã đề nghị các thôn \
hướng dẫn bà con làm đất, ngâm ủ giống đúng lịch thời vụ, không gieo cấy khi nhiệt độ trung bình dưới \
15°C. Bà con cần thăm đồng thường xuyên, phát hiện sớm chuột và ốc bươu vàng để diệt trừ kịp thời.
Tin y tế. Trạm Y tế xã tổ chức tiêm vắc xin phòng bệnh sởi cho trẻ em từ 9 tháng đến 5 tuổi vào sáng \
thứ 7 tuần này, từ 7h30 đến 11h00, tại hội trường nhà văn hóa xã. Đề nghị các gia đình có con em trong \
độ tuổi đưa trẻ đến tiêm đầy đủ, mang theo sổ tiêm chủng và thẻ BHYT.
Tin an ninh trật tự. Công an xã đề nghị bà con cảnh giác với các cuộc gọi lạ tự xưng là cán bộ cơ quan \
nhà nước, yêu cầu chuyển tiền hoặc cung cấp mã xác thực. Năm 2024 trên địa bàn huyện đã có 37 vụ lừa \
đảo qua mạng, thiệt hại hơn 1.500.000.000 đồng. Khi có nghi ngờ, bà con hãy báo ngay cho công an xã \
theo số điện thoại 0912 345 678.
Thông báo. HĐND xã tổ chức tiếp xúc cử tri vào lúc 14h00 chiều thứ 5, ngày 02/01/2025, tại nhà văn hóa \
thôn Đông.
Bản tin của Đài truyền thanh xã đến đây là kết thúc. Cảm ơn bà con đã chú ý lắng nghe.
"""


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def bare_espeak(text: str, rate: int, out: Path, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(["espeak-ng", "-v", "vi", "-s", str(rate), "-w", str(out), text], check=True,
                       capture_output=True, timeout=120)
        times.append(time.perf_counter() - started)
    return statistics.median(times), wav_seconds(out)


def fresh_config(root: Path, name: str) -> config_module.Config:
    return config_module.from_mapping({"device": {"data_dir": str(root / name)}}, env={})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each measurement (median)")
    args = parser.parse_args()
    runs = max(1, args.runs)

    with tempfile.TemporaryDirectory(prefix="bench-tts-") as scratch:
        root = Path(scratch)
        words = len(BULLETIN.split())

        # End to end, cold: new data folder, new engine process, nothing cached.
        pipeline_times, audio_s, hit_times = [], 0.0, []
        for i in range(runs):
            config = fresh_config(root, f"cold-{i}")
            started = time.perf_counter()
            with Preparer(config) as preparer:
                prepared = preparer.prepare_text(BULLETIN)
                pipeline_times.append(time.perf_counter() - started)
                audio_s = prepared.duration_s
                for _ in range(20):
                    began = time.perf_counter()
                    again = preparer.prepare_text(BULLETIN)
                    hit_times.append((time.perf_counter() - began) * 1000)
                    assert again == prepared
        pipeline_s = statistics.median(pipeline_times)
        cache_hit_ms = statistics.median(hit_times)
        # A new Preparer on a warm store (e.g. after a restart): normalization is redone, no engine starts.
        fresh_hits = []
        for _ in range(runs):
            with Preparer(fresh_config(root, "cold-0")) as preparer:
                began = time.perf_counter()
                preparer.prepare_text(BULLETIN)
                fresh_hits.append((time.perf_counter() - began) * 1000)
        fresh_hit_ms = statistics.median(fresh_hits)

        # Stages, each on its own (engine already running for the TTS row).
        config = fresh_config(root, "stages")
        with Synthesizer(config) as synthesizer:
            began = time.perf_counter()
            spoken = synthesizer.normalize(BULLETIN)
            normalize_ms = (time.perf_counter() - began) * 1000
            began = time.perf_counter()
            synthesizer.engine_info()
            engine_start_s = time.perf_counter() - began
            began = time.perf_counter()
            speech = synthesizer.synthesize(BULLETIN)
            tts_s = time.perf_counter() - began
            with Preparer(config, synthesizer=synthesizer) as preparer:
                began = time.perf_counter()
                stage_prepared = preparer.prepare_text(BULLETIN)
                prepare_s = time.perf_counter() - began

        espeak_s, espeak_audio_s = bare_espeak(spoken, config.tts.rate, root / "bare.wav", runs)

    realtime_factor = audio_s / pipeline_s
    ratio = pipeline_s / espeak_s
    print(f"Bulletin: {words} words written, {len(spoken.split())} spoken words after normalization; "
          f"rate {config.tts.rate} wpm, voice {config.tts.voice}; median of {runs} runs")
    print()
    print(f"{'measurement':<52} {'value':>12}")
    print("-" * 65)
    rows = [
        ("bare espeak-ng -v vi -w (same spoken text)", f"{espeak_s:.3f} s"),
        ("  its audio", f"{espeak_audio_s:.1f} s"),
        ("normalization (audio.normalize)", f"{normalize_ms:.1f} ms"),
        ("engine process start + Vietnamese voice check", f"{engine_start_s:.3f} s"),
        ("TTS in the worker (chunks joined, cached atomically)", f"{tts_s:.3f} s"),
        ("  speech audio", f"{speech.duration_s:.1f} s"),
        ("preparation (trim, loudness, chime, store)", f"{prepare_s:.3f} s"),
        ("pipeline end to end, cold (all of the above)", f"{pipeline_s:.3f} s"),
        ("  prepared audio (with chimes)", f"{audio_s:.1f} s"),
        ("  loudness / true peak", f"{stage_prepared.lufs:.1f} LUFS / {stage_prepared.true_peak_dbfs:.1f} dBFS"),
        ("real-time factor (audio s / wall s)   target >= 20", f"{realtime_factor:.1f}x"),
        ("ratio to bare espeak-ng (pipeline / espeak)", f"{ratio:.1f}x"),
        ("cache hit (prepare the same text again) target < 20", f"{cache_hit_ms:.2f} ms"),
        ("  hit from a new Preparer (after a restart)", f"{fresh_hit_ms:.2f} ms"),
    ]
    for name, value in rows:
        print(f"{name:<52} {value:>12}")
    ok = realtime_factor >= 20 and cache_hit_ms < 20
    print("-" * 65)
    print("targets met" if ok else "TARGETS MISSED")
    print(f"RESULT pipeline_s={pipeline_s:.3f} realtime_factor={realtime_factor:.1f} ratio_vs_espeak={ratio:.1f} "
          f"cache_hit_ms={cache_hit_ms:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
