-- AlterTable
ALTER TABLE "DeviceCode" ADD COLUMN "lastPolledAt" DATETIME;
ALTER TABLE "DeviceCode" ADD COLUMN "pollInterval" INTEGER;
