"""Explicit (visible/audible) labels, GB 45438 §5: images, video, audio. Text labels are in
`hegui.labels.text`, shared with the gateway."""
