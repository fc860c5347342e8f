// GPU check for skiff --gpus: computes y = a*x + y on the device and verifies every element on the host.
#include <cstdio>
#include <cmath>
#include <cuda_runtime.h>

__global__ void saxpy(int n, float a, const float *x, float *y) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a * x[i] + y[i];
}

int main() {
    const int n = 1 << 24;
    float *x, *y, *dx, *dy;
    x = new float[n]; y = new float[n];
    for (int i = 0; i < n; i++) { x[i] = (float)(i % 1000); y[i] = 1.0f; }
    cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, 0);
    if (e != cudaSuccess) { printf("CUDA error: %s\n", cudaGetErrorString(e)); return 2; }
    printf("device: %s (sm_%d%d)\n", p.name, p.major, p.minor);
    cudaMalloc(&dx, n * sizeof(float)); cudaMalloc(&dy, n * sizeof(float));
    cudaMemcpy(dx, x, n * sizeof(float), cudaMemcpyHostToDevice);
    cudaMemcpy(dy, y, n * sizeof(float), cudaMemcpyHostToDevice);
    saxpy<<<(n + 255) / 256, 256>>>(n, 3.0f, dx, dy);
    e = cudaDeviceSynchronize();
    if (e != cudaSuccess) { printf("kernel error: %s\n", cudaGetErrorString(e)); return 3; }
    cudaMemcpy(y, dy, n * sizeof(float), cudaMemcpyDeviceToHost);
    long bad = 0;
    for (int i = 0; i < n; i++) if (fabsf(y[i] - (3.0f * (float)(i % 1000) + 1.0f)) > 1e-3f) bad++;
    printf("saxpy n=%d errors=%ld %s\n", n, bad, bad == 0 ? "RESULT OK" : "RESULT WRONG");
    return bad == 0 ? 0 : 1;
}
