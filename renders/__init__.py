"""Derived media: ffmpeg-python graphs for review proxies and posters, one ffmpeg runner, sample footage.

Modules: tools (settings, errors, ffmpeg binary, font), profile (RenderProfile and its hash), proxy (graph
builder and render_proxy), runner (run_ffmpeg), synth (camera-like test clips).
"""
