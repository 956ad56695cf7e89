# probe-modules: scipy.signal._filter_design scipy.signal._fir_filter_design scipy.signal._spectral_py scipy.signal._peak_finding scipy.signal._savitzky_golay scipy.signal._waveforms
# SciPy's signal processing: IIR and FIR design, frequency responses,
# spectral estimates, peak finding, Savitzky-Golay, waveforms.
import numpy as np
from scipy import signal

rng = np.random.default_rng(3)
x = rng.standard_normal(512)
t = np.arange(512) / 64.0
for kind in ("butter", "cheby1", "cheby2", "ellip", "bessel"):
    f = getattr(signal, kind)
    args = {"butter": (4, 0.2), "cheby1": (4, 1, 0.2), "cheby2": (4, 30, 0.2), "ellip": (4, 1, 30, 0.2), "bessel": (4, 0.2)}[kind]
    b, a = f(*args)
    sos = f(*args, output="sos")
    z, p, k = f(*args, output="zpk")
    print(kind, np.round(b[:3], 6), np.round(a[:3], 6), sos.shape, len(z), len(p), round(float(k), 8))
    w, h = signal.freqz(b, a, worN=16)
    print(np.round(np.abs(h[:4]), 6))
print(np.round(signal.butter(3, [0.1, 0.3], btype="band")[0], 6))
print(np.round(signal.butter(2, 100, fs=1000, btype="high", output="sos"), 6))
print(np.round(signal.firwin(11, 0.3), 6), np.round(signal.firwin(11, [0.2, 0.4], pass_zero=False), 6))
print(np.round(signal.firwin(9, 0.25, window=("kaiser", 5.0)), 6), np.round(signal.firwin2(9, [0, 0.5, 1], [1, 1, 0]), 6))
print(signal.kaiserord(40, 0.1), round(signal.kaiser_beta(50), 6), round(signal.kaiser_atten(11, 0.1), 6))
print(np.round(signal.remez(11, [0, 0.1, 0.2, 0.5], [1, 0]), 6), np.round(signal.firls(11, [0, 0.2, 0.3, 0.5], [1, 1, 0, 0]), 6))
print(np.round(signal.minimum_phase(signal.firwin(15, 0.3)), 6))
b, a = signal.iirfilter(3, [0.2, 0.5], rs=40, rp=1, ftype="ellip")
print(np.round(b, 6))
print(np.round(signal.iirnotch(0.3, 10.0)[0], 6), np.round(signal.iirpeak(0.3, 10.0)[1], 6), np.round(signal.iircomb(10, 5, fs=100)[0][:3], 6))
print(signal.buttord(0.2, 0.3, 3, 40), signal.cheb1ord(0.2, 0.3, 3, 40), signal.ellipord(0.2, 0.3, 3, 40))
z, p, k = signal.tf2zpk([1, 2, 1], [1, -0.5, 0.25])
print(np.round(z, 6), np.round(p, 6), k, np.round(signal.zpk2sos(z, p, k), 6))
print(np.round(signal.bilinear([1], [1, 1], fs=10), 6), np.round(signal.lp2hp([1], [1, 1])[0], 6), signal.normalize([2, 4], [2, 1]))
w, gd = signal.group_delay(([1, 0.5], [1, -0.3]), w=8)
print(np.round(gd, 6), np.round(signal.sosfreqz(signal.butter(2, 0.3, output="sos"), worN=4)[1], 6))
for win in ("hann", ("tukey", 0.3), "blackman", ("gaussian", 2)):
    f, P = signal.welch(x, fs=64, window=win, nperseg=64)
    print(win, np.round(P[:3], 6))
print(np.round(signal.periodogram(x, 64, scaling="spectrum")[1][:3], 6))
f, tt, S = signal.spectrogram(x, 64, nperseg=32, noverlap=16)
print(S.shape, np.round(S[0, :3], 6))
f, tt, Z = signal.stft(x, 64, nperseg=32)
print(Z.shape, np.round(signal.istft(Z, 64, nperseg=32)[1][:4], 6))
print(np.round(signal.csd(x, x[::-1], 64, nperseg=64)[1][:3], 6), np.round(signal.coherence(x, x + t, 64, nperseg=64)[1][:3], 6))
print(np.round(signal.lombscargle(t[:50], x[:50], np.linspace(0.1, 3, 5)), 6))
y = np.sin(2 * np.pi * 0.8 * t) + 0.1 * x
peaks, props = signal.find_peaks(y, height=0.5, distance=10, prominence=0.3, width=2)
print(peaks[:6], sorted(props), np.round(props["prominences"][:3], 6))
print(signal.find_peaks(y, threshold=0.01, plateau_size=1)[0][:5], signal.argrelmax(y[:100])[0], signal.argrelmin(y[:100], order=3)[0])
print(np.round(signal.peak_widths(y, peaks[:3], rel_height=0.5)[0], 6), np.round(signal.peak_prominences(y, peaks[:3])[0], 6))
print(signal.find_peaks_cwt(y[:200], np.arange(2, 8))[:5])
print(np.round(signal.savgol_coeffs(7, 2), 6), np.round(signal.savgol_filter(y[:20], 5, 2), 6), np.round(signal.savgol_coeffs(5, 2, deriv=1, use="dot"), 6))
print(np.round(signal.chirp(t[:8], 1, 8, 4, method="quadratic"), 6), np.round(signal.sawtooth(t[:8], 0.5), 6), np.round(signal.square(t[:8]), 6))
print(np.round(signal.gausspulse(t[:8] - 4, fc=1, retquad=True, retenv=True)[2], 6), signal.unit_impulse(5, "mid"), np.round(signal.sweep_poly(t[:4], [1, 0, 1]), 6))
try:
    signal.butter(4, 1.5)
except ValueError as e:
    print("error", e)
try:
    signal.firwin(10, 0.3)
except ValueError as e:
    print("error", e)
