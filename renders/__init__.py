"""Derived media: ffmpeg-python graphs for proxies, posters, contact sheets and QC; one ffmpeg runner; sample footage.

Modules: tools (settings, errors, ffmpeg binary, font), profile (RenderProfile, QcProfile and the profile
hash), proxy (video: the one-decode graph and render_proxy), audio (audio-only masters), still (stills),
render (render_source: the entry point for every kind), qc (detector branches, parsing their output, flags),
runner (run_ffmpeg), synth (camera-like test clips).
"""
