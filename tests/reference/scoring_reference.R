# Reference numbers for tests/test_scoring.py and tests/test_information.py.
# Independent of the package: every estimate is a one-dimensional integral, optimum or
# root computed with R's integrate(), optimize() and uniroot() on closed-form item models.
# Run: Rscript tests/reference/scoring_reference.R > tests/reference/scoring_reference.out
options(digits = 10)

# ---- LSAT7, 2PL with mirt 1.47's published estimates (IRT form) ----------------------
a <- c(0.988, 1.081, 1.706, 0.765, 0.736)
b <- c(-1.879, -0.748, -1.058, -0.635, -2.520)
p2 <- function(theta, j) 1 / (1 + exp(-a[j] * (theta - b[j])))
lik <- function(theta, x) {
  out <- rep(1, length(theta))
  for (j in seq_along(x)) if (!is.na(x[j])) {
    p <- p2(theta, j); out <- out * if (x[j] == 1) p else 1 - p
  }
  out
}
eap <- function(x, mu = 0, s = 1) {
  den <- integrate(function(t) lik(t, x) * dnorm(t, mu, s), -Inf, Inf, rel.tol = 1e-12)$value
  m <- integrate(function(t) t * lik(t, x) * dnorm(t, mu, s), -Inf, Inf, rel.tol = 1e-12)$value / den
  v <- integrate(function(t) (t - m)^2 * lik(t, x) * dnorm(t, mu, s), -Inf, Inf, rel.tol = 1e-12)$value / den
  c(m, sqrt(v))
}
info2 <- function(theta, x) { s <- 0; for (j in seq_along(x)) if (!is.na(x[j])) { p <- p2(theta, j); s <- s + a[j]^2 * p * (1 - p) }; s }
score2 <- function(theta, x) { s <- 0; for (j in seq_along(x)) if (!is.na(x[j])) s <- s + a[j] * (x[j] - p2(theta, j)); s }
# Warm: J = sum a^3 P Q (1 - 2P) for the 2PL
warm2 <- function(theta, x) { J <- 0; for (j in seq_along(x)) if (!is.na(x[j])) { p <- p2(theta, j); J <- J + a[j]^3 * p * (1 - p) * (1 - 2 * p) }; score2(theta, x) + J / (2 * info2(theta, x)) }
ml2 <- function(x) uniroot(function(t) score2(t, x), c(-15, 15), tol = 1e-12)$root
wle2 <- function(x) uniroot(function(t) warm2(t, x), c(-15, 15), tol = 1e-12)$root
map2 <- function(x) uniroot(function(t) score2(t, x) - t, c(-15, 15), tol = 1e-12)$root

patterns <- list(c(0,0,0,0,0), c(1,1,1,1,1), c(1,0,1,0,1), c(0,1,1,0,0), c(1,1,1,0,1),
                 c(NA,1,0,NA,1), c(0,NA,NA,NA,NA))
cat("## LSAT7 2PL: pattern, EAP, SD, MAP, ML, WLE\n")
for (x in patterns) {
  e <- eap(x)
  extreme <- all(x[!is.na(x)] == 0) || all(x[!is.na(x)] == 1)
  cat(paste(ifelse(is.na(x), "NA", x), collapse = ""), sprintf("%.10f", e),
      sprintf("%.10f", map2(x)), if (extreme) "Inf" else sprintf("%.10f", ml2(x)),
      sprintf("%.10f", wle2(x)), "\n")
}
rxx <- integrate(function(t) sapply(t, function(u) { I <- info2(u, rep(1, 5)); I / (I + 1) }) * dnorm(t), -Inf, Inf, rel.tol = 1e-12)$value
cat("## LSAT7 2PL marginal reliability (mirt's marginal_rxx definition)\n", sprintf("%.10f", rxx), "\n")

# ---- 3PL: three items (a, b, g) --------------------------------------------------------
a3 <- c(1.2, 0.8, 1.6); b3 <- c(-0.5, 0.3, 1.0); g3 <- c(0.2, 0.25, 0.15)
p3 <- function(theta, j) g3[j] + (1 - g3[j]) / (1 + exp(-a3[j] * (theta - b3[j])))
dp3 <- function(theta, j) { s <- 1 / (1 + exp(-a3[j] * (theta - b3[j]))); (1 - g3[j]) * a3[j] * s * (1 - s) }
d2p3 <- function(theta, j) { s <- 1 / (1 + exp(-a3[j] * (theta - b3[j]))); (1 - g3[j]) * a3[j]^2 * s * (1 - s) * (1 - 2 * s) }
info3 <- function(theta, x) { s <- 0; for (j in seq_along(x)) if (!is.na(x[j])) { p <- p3(theta, j); s <- s + dp3(theta, j)^2 / (p * (1 - p)) }; s }
loglik3 <- function(theta, x) { s <- 0; for (j in seq_along(x)) if (!is.na(x[j])) { p <- p3(theta, j); s <- s + if (x[j] == 1) log(p) else log(1 - p) }; s }
score3 <- function(theta, x) { s <- 0; for (j in seq_along(x)) if (!is.na(x[j])) { p <- p3(theta, j); s <- s + (x[j] - p) * dp3(theta, j) / (p * (1 - p)) }; s }
warm3 <- function(theta, x) { J <- 0; for (j in seq_along(x)) if (!is.na(x[j])) { p <- p3(theta, j); J <- J + dp3(theta, j) * d2p3(theta, j) * (1 / p + 1 / (1 - p)) }; score3(theta, x) + J / (2 * info3(theta, x)) }
cat("## 3PL items a=1.2,0.8,1.6 b=-0.5,0.3,1.0 g=0.2,0.25,0.15: pattern, ML, WLE, info(ML)\n")
for (x in list(c(1,0,1), c(1,1,0), c(0,1,1))) {
  ml <- optimize(function(t) loglik3(t, x), c(-8, 8), maximum = TRUE, tol = 1e-12)$maximum
  cat(paste(x, collapse = ""), sprintf("%.10f", ml), sprintf("%.10f", uniroot(function(t) warm3(t, x), c(-8, 8), tol = 1e-12)$root),
      sprintf("%.10f", info3(ml, x)), "\n")
}
cat("## 3PL WLE for the all-lowest and all-highest patterns\n")
for (x in list(c(0,0,0), c(1,1,1)))
  cat(paste(x, collapse = ""), sprintf("%.10f", uniroot(function(t) warm3(t, x), c(-8, 8), tol = 1e-12)$root), "\n")

# ---- Graded response model: 3 items, 4 categories (a, b1..b3) -------------------------
ag <- c(1.5, 0.9, 2.1)
bg <- rbind(c(-1.5, 0.0, 1.2), c(-0.8, 0.4, 2.0), c(-2.0, -0.6, 0.5))
pg <- function(theta, j) {  # matrix length(theta) x 4
  cum <- sapply(1:3, function(k) 1 / (1 + exp(-ag[j] * (theta - bg[j, k]))))
  cum <- cbind(1, matrix(cum, ncol = 3), 0)
  cum[, 1:4, drop = FALSE] - cum[, 2:5, drop = FALSE]
}
likg <- function(theta, x) { out <- rep(1, length(theta)); for (j in seq_along(x)) if (!is.na(x[j])) out <- out * pg(theta, j)[, x[j] + 1]; out }
eapg <- function(x) {
  den <- integrate(function(t) likg(t, x) * dnorm(t), -Inf, Inf, rel.tol = 1e-12)$value
  m <- integrate(function(t) t * likg(t, x) * dnorm(t), -Inf, Inf, rel.tol = 1e-12)$value / den
  v <- integrate(function(t) (t - m)^2 * likg(t, x) * dnorm(t), -Inf, Inf, rel.tol = 1e-12)$value / den
  c(m, sqrt(v))
}
# numeric derivatives only in the information check below; ML/MAP by optimize
infog <- function(theta, j) {  # sum_k P_k'^2 / P_k, P_k' from the closed form of the logistic
  cs <- sapply(1:3, function(k) 1 / (1 + exp(-ag[j] * (theta - bg[j, k]))))
  dcs <- c(0, ag[j] * cs * (1 - cs), 0)
  P <- pg(theta, j)[1, ]
  dP <- dcs[1:4] - dcs[2:5]
  sum(dP^2 / P)
}
cat("## graded a=1.5,0.9,2.1; b rows (-1.5,0,1.2) (-0.8,0.4,2) (-2,-0.6,0.5): pattern (0-based), EAP, SD, MAP, ML\n")
for (x in list(c(0,1,2), c(3,2,1), c(1,NA,3), c(2,2,2))) {
  e <- eapg(x)
  mp <- optimize(function(t) log(likg(t, x)) + dnorm(t, log = TRUE), c(-8, 8), maximum = TRUE, tol = 1e-12)$maximum
  ml <- optimize(function(t) log(likg(t, x)), c(-8, 8), maximum = TRUE, tol = 1e-12)$maximum
  cat(paste(ifelse(is.na(x), "NA", x), collapse = ""), sprintf("%.10f", c(e, mp, ml)), "\n")
}
dparts <- function(theta, j) {  # P, P', P'' of the four categories at a scalar theta
  cs <- sapply(1:3, function(k) 1 / (1 + exp(-ag[j] * (theta - bg[j, k]))))
  d1 <- c(0, ag[j] * cs * (1 - cs), 0); d2 <- c(0, ag[j]^2 * cs * (1 - cs) * (1 - 2 * cs), 0)
  list(P = pg(theta, j)[1, ], d1 = d1[1:4] - d1[2:5], d2 = d2[1:4] - d2[2:5])
}
warmg <- function(theta, x) {
  S <- 0; I <- 0; J <- 0
  for (j in seq_along(x)) if (!is.na(x[j])) {
    d <- dparts(theta, j)
    S <- S + d$d1[x[j] + 1] / d$P[x[j] + 1]; I <- I + sum(d$d1^2 / d$P); J <- J + sum(d$d1 * d$d2 / d$P)
  }
  S + J / (2 * I)
}
cat("## graded WLE (Warm, J = sum P' P'' / P): pattern, WLE\n")
for (x in list(c(0,1,2), c(3,2,1), c(0,0,0), c(3,3,3)))
  cat(paste(x, collapse = ""), sprintf("%.10f", uniroot(function(t) warmg(t, x), c(-10, 10), tol = 1e-12)$root), "\n")
cat("## graded item information at theta = -2, -0.5, 0, 1.3: item1 item2 item3\n")
for (t in c(-2, -0.5, 0, 1.3)) cat(t, sprintf("%.10f", sapply(1:3, function(j) infog(t, j))), "\n")
