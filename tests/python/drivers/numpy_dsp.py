# probe-modules: numpy.fft._pocketfft numpy._core.numeric numpy.lib._stride_tricks_impl numpy.lib._arraypad_impl numpy.linalg._linalg
# The DSP user's own path through NumPy's Python source: FFTs and their
# normalisations, convolution and correlation, sliding windows by stride
# tricks, padding modes, and the least-squares fit of a FIR filter.
import numpy as np

rng = np.random.default_rng(7)
x = rng.standard_normal(64)
taps = np.hanning(9) / np.hanning(9).sum()
print(np.round(np.abs(np.fft.rfft(x, n=32))[:5], 6))
for norm in (None, "ortho", "forward"):
    X = np.fft.fft(x[:16], norm=norm)
    print(norm, np.round(np.fft.ifft(X, norm=norm).real[:3], 6), np.round(X[1], 6))
print(np.round(np.fft.irfft(np.fft.rfft(x[:10]), n=10)[:4], 6), np.round(np.fft.fftfreq(8, d=0.5), 3))
print(np.round(np.fft.fft2(x[:16].reshape(4, 4))[0], 4), np.round(np.fft.ifftn(np.ones((2, 3)), axes=(1,)), 4))
print(np.round(np.fft.hfft(np.array([1, 2j, 3])), 4), np.round(np.fft.ihfft(np.arange(5.0)), 4))
try:
    np.fft.fft([], n=0)
except ValueError as e:
    print("error", e)
for mode in ("full", "same", "valid"):
    print(mode, np.round(np.convolve(x[:12], taps, mode=mode)[:3], 6), np.round(np.correlate(x[:12], taps, mode)[:2], 6))
print(np.round(np.outer(taps[:3], x[:2]), 5), np.round(np.tensordot(np.ones((2, 3)), np.ones((3, 2)), axes=1), 3))
print(np.roll(np.arange(10), 3), np.roll(np.arange(6).reshape(2, 3), -1, axis=(0, 1)), np.rollaxis(np.zeros((2, 3, 4)), 2).shape)
print(np.isclose([1.0, np.nan, 1e-9], [1.0 + 1e-9, np.nan, 0.0], equal_nan=True), np.allclose(x, x + 1e-12))
print(np.cross([1, 2, 3], [4, 5, 6]), np.moveaxis(np.zeros((2, 3, 4)), 0, -1).shape, np.indices((2, 2)).tolist())
print(np.array_equal(x, x.copy()), np.count_nonzero(x > 0), np.flatnonzero(x[:8] > 0), np.base_repr(37, 5))
w = np.lib.stride_tricks.sliding_window_view(x[:10], 4)
print(w.shape, np.round(w.mean(axis=1), 5), np.lib.stride_tricks.sliding_window_view(np.arange(12).reshape(3, 4), (2, 2)).shape)
print(np.broadcast_to(np.arange(3), (2, 3)).tolist(), [a.shape for a in np.broadcast_arrays(np.ones((3, 1)), np.ones(4))])
print(np.broadcast_shapes((1, 3), (2, 1)), np.lib.stride_tricks.as_strided(np.arange(6), shape=(3, 2), strides=(16, 8)).tolist())
for mode in ("constant", "edge", "reflect", "symmetric", "wrap", "linear_ramp", "maximum", "mean", "median"):
    print(mode, np.pad(np.array([1.0, 4.0, 2.0]), (2, 3), mode=mode).tolist())
print(np.pad(np.arange(6).reshape(2, 3), ((1, 0), (0, 2)), constant_values=((9, 8), (7, 6))).tolist())
print(np.pad(np.array([1, 2]), 1, mode=lambda v, w, a, k: None).tolist())
A = np.column_stack([np.roll(x[:20], k) for k in range(4)])
b = np.convolve(x[:20], [0.5, 0.25, 0.125, 0.125], mode="full")[:20]
coef, res, rank, sv = np.linalg.lstsq(A, b, rcond=None)
print(np.round(coef, 6), rank, np.round(sv, 4))
M = np.array([[4.0, 1, 0], [1, 3, 1], [0, 1, 2]])
print(np.round(np.linalg.solve(M, [1, 2, 3]), 6), np.round(np.linalg.inv(M)[0], 6), np.round(np.linalg.det(M), 6))
print(np.round(np.linalg.eigvalsh(M), 6), np.round(np.linalg.norm(M, ord="fro"), 6), np.linalg.matrix_rank(M))
print(np.round(np.linalg.cholesky(M)[2], 6), np.round(np.linalg.pinv(M[:2])[0], 6), np.round(np.linalg.cond(M), 6))
q, r = np.linalg.qr(M)
print(np.round(np.abs(np.diag(r)), 6), np.round(np.linalg.matrix_power(M, 3)[0], 3), np.round(np.linalg.slogdet(M), 6))
try:
    np.linalg.solve(np.zeros((2, 2)), [1, 2])
except np.linalg.LinAlgError as e:
    print("error", e)
