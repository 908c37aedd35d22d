"""Audio side of commune-radio: Vietnamese text normalization, TTS, preparation, playback."""
