"""Build hook for hegui's one optional C extension, ``hegui._native``; the rest is pyproject.toml.

The extension is optional (``optional=True``): where no C compiler is at hand the install still
succeeds and the package runs its numpy twins of the same loops, with the same results.
``-ffp-contract=off`` keeps the compiler from fusing a multiply and an add, which would change
float32 sums in their last bit and break bit-identity with numpy.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "hegui._native",
            ["src/hegui/_native.c"],
            extra_compile_args=["-O2", "-ffp-contract=off", "-fno-fast-math"],
            optional=True,
        )
    ]
)
