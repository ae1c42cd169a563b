# Reference category probabilities and item information for tests/items/test_partial_credit.py
# and tests/items/test_nominal.py. Base R only; written from the model definitions in mirt's
# documentation (gpcm/nominal: P_k ~ exp(ak_k * a * theta + d_k); rsm via the gpcmIRT
# recursion z_k = z_{k-1} + a * (theta - b_k) + c). Information is computed numerically as
# sum_k (dP_k/dtheta)^2 / P_k with central differences, independent of the closed form.
# Run: Rscript tests/reference/partial_credit_nominal.R > tests/reference/partial_credit_nominal.out
options(digits = 12)
theta <- c(-2, -0.5, 0, 1, 2.5)

divide_by_total <- function(z) { e <- exp(z - max(z)); e / sum(e) }

p_nominal <- function(th, a, ak, d) divide_by_total(ak * a * th + d)
p_rsm <- function(th, a, b, c) {
  z <- numeric(length(b) + 1)
  for (k in seq_along(b)) z[k + 1] <- z[k] + a * (th - b[k]) + c
  divide_by_total(z)
}
info <- function(pfun, th, h = 1e-4) {
  dp <- (pfun(th + h) - pfun(th - h)) / (2 * h)
  sum(dp^2 / pfun(th))
}
report <- function(label, pfun) {
  P <- t(sapply(theta, pfun))
  I <- sapply(theta, function(th) info(pfun, th))
  cat(label, "probabilities (rows theta =", theta, ")\n")
  write.table(format(P, digits = 12), quote = FALSE, row.names = FALSE, col.names = FALSE)
  cat(label, "information\n")
  cat(format(I, digits = 12), "\n\n")
}

# gpcm: a1 = 1.3, d = (0, 0.8, 0.2, -1.1)
report("gpcm", function(th) p_nominal(th, 1.3, 0:3, c(0, 0.8, 0.2, -1.1)))
# pcm: a1 = 1, d = (0, -0.4, 0.3)
report("pcm", function(th) p_nominal(th, 1, 0:2, c(0, -0.4, 0.3)))
# rsm: a = 1, b = (-1.0, 0.2, 1.1), c = 0.4
report("rsm", function(th) p_rsm(th, 1, c(-1.0, 0.2, 1.1), 0.4))
# nominal: a1 = 0.9, ak = (0, 0.7, 2.1, 3), d = (0, 1.2, 0.4, -0.9)
report("nominal", function(th) p_nominal(th, 0.9, c(0, 0.7, 2.1, 3), c(0, 1.2, 0.4, -0.9)))
