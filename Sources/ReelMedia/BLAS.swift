import CBLAS

/// The only ReelMedia file that calls OpenBLAS.
enum BLAS {
    /// C[m,n] = A[m,k] · B (B is [k,n], or [n,k] when `transB`), all row-major f64.
    static func dgemm(m: Int, n: Int, k: Int, a: UnsafePointer<Double>, b: UnsafePointer<Double>, transB: Bool,
                      c: UnsafeMutablePointer<Double>) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), 1.0, a, Int32(k), b, Int32(transB ? k : n), 0.0, c, Int32(n))
    }
}
