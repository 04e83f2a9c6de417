-- AlterTable
ALTER TABLE "DeviceCode" ADD COLUMN     "lastPolledAt" TIMESTAMP(3),
ADD COLUMN     "pollInterval" INTEGER;
