// Loaded with LD_PRELOAD into a program under test: counts every allocation, and on SIGUSR2 writes
// "malloc-count: N" to stderr, so a test can measure allocations per request from outside.
#ifndef MALLOC_COUNTER_H
#define MALLOC_COUNTER_H
unsigned long malloc_counter_total(void);
#endif
