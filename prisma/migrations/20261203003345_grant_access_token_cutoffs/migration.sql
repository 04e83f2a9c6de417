-- CreateTable
CREATE TABLE "GrantAccessTokenCutoff" (
    "grantId" TEXT NOT NULL PRIMARY KEY,
    "revokedAt" DATETIME NOT NULL,
    "expiresAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE INDEX "GrantAccessTokenCutoff_expiresAt_idx" ON "GrantAccessTokenCutoff"("expiresAt");
