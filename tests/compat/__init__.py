"""The original project's (pytorch-hyperlight 0.3.0) own tests and notebooks, ported as its users wrote them.

Each test module lists, in a comment at its top, every change made to the original and why; the
changes are only those today's libraries force (MNIST -> scikit-learn digits, torchmetrics,
torch's AdamW, Lightning 2 hooks, a 2-CPU machine). They are the contract of the original API:
a failure here means this library does not yet do what the original's users relied on.
"""
