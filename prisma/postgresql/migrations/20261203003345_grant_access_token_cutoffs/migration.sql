-- CreateTable
CREATE TABLE "GrantAccessTokenCutoff" (
    "grantId" TEXT NOT NULL,
    "revokedAt" TIMESTAMP(3) NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "GrantAccessTokenCutoff_pkey" PRIMARY KEY ("grantId")
);

-- CreateIndex
CREATE INDEX "GrantAccessTokenCutoff_expiresAt_idx" ON "GrantAccessTokenCutoff"("expiresAt");
