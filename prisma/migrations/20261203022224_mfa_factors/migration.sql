-- CreateTable
CREATE TABLE "MfaTotp" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "userId" TEXT NOT NULL,
    "sealedSecret" TEXT NOT NULL,
    "confirmedAt" DATETIME,
    "lastUsedStep" INTEGER NOT NULL DEFAULT 0,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" DATETIME
);

-- CreateTable
CREATE TABLE "MfaPasskey" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "userId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "credentialId" TEXT NOT NULL,
    "publicKey" TEXT NOT NULL,
    "counter" BIGINT NOT NULL DEFAULT 0,
    "transports" TEXT NOT NULL DEFAULT '',
    "deviceType" TEXT NOT NULL,
    "backedUp" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" DATETIME
);

-- CreateTable
CREATE TABLE "MfaRecoveryCode" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "userId" TEXT NOT NULL,
    "codeHash" TEXT NOT NULL,
    "usedAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "MfaWebAuthnChallenge" (
    "challenge" TEXT NOT NULL PRIMARY KEY,
    "purpose" TEXT NOT NULL,
    "binding" TEXT NOT NULL,
    "userId" TEXT,
    "expiresAt" DATETIME NOT NULL
);

-- AlterTable (a plain ADD COLUMN rather than a table rebuild, so that other branches adding
-- their own Client columns in parallel do not drop this one when their migrations run later)
ALTER TABLE "Client" ADD COLUMN "requireMfa" BOOLEAN NOT NULL DEFAULT false;

-- CreateIndex
CREATE INDEX "MfaTotp_userId_idx" ON "MfaTotp"("userId");

-- CreateIndex
CREATE UNIQUE INDEX "MfaPasskey_credentialId_key" ON "MfaPasskey"("credentialId");

-- CreateIndex
CREATE INDEX "MfaPasskey_userId_idx" ON "MfaPasskey"("userId");

-- CreateIndex
CREATE UNIQUE INDEX "MfaRecoveryCode_codeHash_key" ON "MfaRecoveryCode"("codeHash");

-- CreateIndex
CREATE INDEX "MfaRecoveryCode_userId_idx" ON "MfaRecoveryCode"("userId");

-- CreateIndex
CREATE INDEX "MfaWebAuthnChallenge_expiresAt_idx" ON "MfaWebAuthnChallenge"("expiresAt");
