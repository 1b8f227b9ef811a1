/*
 * `zonedev bench NAME`: benchmarks that report ratios against baselines
 * measured in the same run (memset bandwidth), never bare times alone.
 */
#ifndef ZONEDEV_BENCH_H
#define ZONEDEV_BENCH_H

int cmd_bench(int argc, char **argv);

#endif
