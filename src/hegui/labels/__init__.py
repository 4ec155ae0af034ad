"""Content labels required by the Labelling Measures and GB 45438.

* `aigc`: the seven-field implicit label (Appendix E), charset, first-write rule.
* `integrity`: ReservedCode1/2 signatures (SM3withSM2, Ed25519, HMAC) over label + content digest.
* `formats`: one module per file format that carries the label (read, replace, label-free content).
* `implicit`: `Labeller.apply` and `verify` on bytes; `files`: whole files, batches, sidecars.
* `explicit`: visible labels on images and video, the audible 短长短短 cue; `text`: text labels
  shared with the gateway.
"""
