"""Derived media: ffmpeg-python graphs for proxies, posters, contact sheets and QC; one ffmpeg runner; sample footage.

Modules:
- render: render_source, the entry point for every kind of master.
- source: ProxySource (the master as the renderer sees it), its timecode rate, inspect_source.
- proxy: video masters, the one-decode graph and render_proxy; audio: audio-only masters; still: stills.
- picture: fitting, padding and HDR tone mapping to the profile frame; poster and contact sheet branches.
- burnin: name, running timecode and watermark burnt into the picture.
- check: the video proxy read back and compared with the profile's promise.
- outcome: ProxyResult and its QcRecord (facts read back, measurements, flags, the run's facts).
- qc: the detector branches and reading their output; measurements: the runs and loudness they measured;
  flags: QcRules and QcFlag, the measurements held against the rules.
- profile: RenderProfile, QcProfile and their hash; settings: RendersSettings.
- runner: run_ffmpeg; tools: the ffmpeg binary and the font; errors: RenderError and one subclass per failure.
- synth: camera-like sample clips for the demo and tests; synth_cases: clips for particular cases (QC faults,
  variable rate, several microphones, HDR, a recorder's take).
"""
