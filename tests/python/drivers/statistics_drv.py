# probe-modules: statistics
import statistics
print(statistics.mean([1, 2, 3, 4.5]), statistics.median([3, 1, 2]), statistics.stdev([1.5, 2.5, 2.5, 2.75, 3.25, 4.75]))
print(statistics.mode([1, 1, 2]), statistics.quantiles([1, 2, 3, 4, 5, 6, 7, 8], n=4))
