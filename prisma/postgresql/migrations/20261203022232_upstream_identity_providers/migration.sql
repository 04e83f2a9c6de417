-- AlterTable
ALTER TABLE "User" ALTER COLUMN "passwordHash" DROP NOT NULL;

-- CreateTable
CREATE TABLE "UpstreamProvider" (
    "id" TEXT NOT NULL,
    "displayName" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "issuer" TEXT NOT NULL,
    "authorizationEndpoint" TEXT,
    "tokenEndpoint" TEXT,
    "userinfoEndpoint" TEXT,
    "clientId" TEXT NOT NULL,
    "clientSecretEnc" TEXT,
    "clientAuthMethod" TEXT NOT NULL,
    "scopes" TEXT NOT NULL,
    "claimMapping" JSONB NOT NULL,
    "createUsers" BOOLEAN NOT NULL DEFAULT false,
    "trustEmail" BOOLEAN NOT NULL DEFAULT false,
    "disabled" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "UpstreamProvider_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "LinkedIdentity" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "upstreamId" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "email" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSignInAt" TIMESTAMP(3),

    CONSTRAINT "LinkedIdentity_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "UpstreamAuthorization" (
    "id" TEXT NOT NULL,
    "upstreamId" TEXT NOT NULL,
    "interactionUid" TEXT NOT NULL,
    "browserHash" TEXT NOT NULL,
    "nonce" TEXT,
    "codeVerifier" TEXT NOT NULL,
    "consumedAt" TIMESTAMP(3),
    "outcome" JSONB,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "UpstreamAuthorization_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "LinkedIdentity_userId_idx" ON "LinkedIdentity"("userId");

-- CreateIndex
CREATE UNIQUE INDEX "LinkedIdentity_upstreamId_subject_key" ON "LinkedIdentity"("upstreamId", "subject");

-- CreateIndex
CREATE INDEX "UpstreamAuthorization_interactionUid_idx" ON "UpstreamAuthorization"("interactionUid");

-- CreateIndex
CREATE INDEX "UpstreamAuthorization_expiresAt_idx" ON "UpstreamAuthorization"("expiresAt");

-- AddForeignKey
ALTER TABLE "LinkedIdentity" ADD CONSTRAINT "LinkedIdentity_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LinkedIdentity" ADD CONSTRAINT "LinkedIdentity_upstreamId_fkey" FOREIGN KEY ("upstreamId") REFERENCES "UpstreamProvider"("id") ON DELETE CASCADE ON UPDATE CASCADE;
