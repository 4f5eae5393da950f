// ReelMedia: frames and audio from files (ffmpeg), resize/normalise, log-mel. See docs/media.md.
