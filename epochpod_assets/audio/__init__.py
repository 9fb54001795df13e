"""Speech synthesis (eSpeak NG) and episode audio assembly (ffmpeg, mutagen)."""
