/* The hand-written C anchor of workload (b): B parameter sets x N neurons x T steps, counts only, float32,
 * the same arithmetic as jaxiaf's float32 sweep (Brian2's update expressions, strict threshold, reset,
 * refractory 0 so no refractory counter), input currents (T, N) shared by all sets, per-set bias and tau.
 *
 *   gcc -O3 -march=native -ffast-math -fopenmp c_loop.c -o c_loop -lm
 *   ./c_loop rk4|exact B N T threads   ->  prints "seconds total_spikes"
 *
 * Brian2's cpp_standalone compiles with the same flags (-O3 -ffast-math -march=native). The loop order is
 * time outermost (a step needs the previous one), then sets, then neurons (the vectorised axis).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s rk4|exact B N T threads\n", argv[0]);
        return 2;
    }
    const int rk4 = strcmp(argv[1], "rk4") == 0;
    const int B = atoi(argv[2]), N = atoi(argv[3]), T = atoi(argv[4]), threads = atoi(argv[5]);
    const float dt = 1e-4f, v_thresh = -0.055f, v_reset = -0.065f, v_rest = -0.065f;
    float *u = malloc(sizeof(float) * (size_t)T * N);       /* currents (T, N) */
    float *v = malloc(sizeof(float) * (size_t)B * N);
    int *counts = calloc((size_t)B * N, sizeof(int));
    float *bias = malloc(sizeof(float) * B), *tau = malloc(sizeof(float) * B), *decay = malloc(sizeof(float) * B);
    unsigned s = 12345u;
    for (size_t k = 0; k < (size_t)T * N; k++) {     /* a deterministic pseudo-random current, ~N(0, 0.05) A */
        float acc = 0.f;
        for (int r = 0; r < 4; r++) { s = s * 1664525u + 1013904223u; acc += (s >> 8) * (1.0f / 16777216.0f); }
        u[k] = 0.05f * (acc - 2.0f) * 1.7320508f;
    }
    for (int b = 0; b < B; b++) {
        bias[b] = 0.03f * b / (B > 1 ? B - 1 : 1);
        tau[b] = 0.005f + 0.045f * b / (B > 1 ? B - 1 : 1);
        decay[b] = expf(-dt / tau[b]);
    }
    for (size_t k = 0; k < (size_t)B * N; k++) v[k] = v_rest;
#ifdef _OPENMP
    omp_set_num_threads(threads > 0 ? threads : 1);
#endif
    double t0 = now();
#pragma omp parallel
    for (int t = 0; t < T; t++) {
        const float *ut = u + (size_t)t * N;
#pragma omp for schedule(static)
        for (int b = 0; b < B; b++) {
            float *vb = v + (size_t)b * N;
            int *cb = counts + (size_t)b * N;
            const float ib = bias[b], tb = tau[b], e = decay[b];
            if (rk4) {
                for (int n = 0; n < N; n++) {
                    const float x = vb[n], c = ut[n] + ib + v_rest;
                    const float k1 = dt * (c - x) / tb;
                    const float k2 = dt * ((0.5f * -k1 + c) - x) / tb;
                    const float k3 = dt * ((0.5f * -k2 + c) - x) / tb;
                    const float k4 = dt * ((-k3 + c) - x) / tb;
                    float y = k1 / 6.f + k2 / 3.f + k3 / 3.f + k4 / 6.f + x;
                    const int spike = y > v_thresh;
                    cb[n] += spike;
                    vb[n] = spike ? v_reset : y;
                }
            } else {
                for (int n = 0; n < N; n++) {
                    const float x = vb[n], w = ut[n] + ib;
                    float y = ((w + x * e) + v_rest) + ((-ut[n]) - (ib + v_rest)) * e;
                    const int spike = y > v_thresh;
                    cb[n] += spike;
                    vb[n] = spike ? v_reset : y;
                }
            }
        }   /* implicit barrier: every set finishes step t before step t+1 */
    }
    double elapsed = now() - t0;
    long total = 0;
    for (size_t k = 0; k < (size_t)B * N; k++) total += counts[k];
    printf("%.6f %ld\n", elapsed, total);
    return 0;
}
