// AudioWorklet: the microphone at the context's rate -> 16 kHz mono s16le, posted every 50 ms.
class LivePcm extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / 16000;   // input samples per output sample
    this.pos = 0;
    this.out = new Int16Array(800);   // 50 ms at 16 kHz
    this.n = 0;
    this.prev = 0;
  }
  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const data = input[0];
    for (let i = 0; i < data.length; i++) {
      const cur = data[i];
      while (this.pos <= 1) {            // linear interpolation between prev and cur
        const v = this.prev + (cur - this.prev) * this.pos;
        this.out[this.n++] = Math.max(-32768, Math.min(32767, Math.round(v * 32767)));
        if (this.n === this.out.length) {
          this.port.postMessage(this.out.buffer, [this.out.buffer]);
          this.out = new Int16Array(800);
          this.n = 0;
        }
        this.pos += this.step;
      }
      this.pos -= 1;
      this.prev = cur;
    }
    return true;
  }
}
registerProcessor("live-pcm", LivePcm);
