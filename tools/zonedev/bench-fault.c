#include "bench.h"
int bench_fault(int argc, char **argv) { (void)argc; (void)argv; return 2; }
