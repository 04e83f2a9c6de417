-- AlterTable
ALTER TABLE "Client" ADD COLUMN "introspectionSignedResponseAlg" TEXT;
