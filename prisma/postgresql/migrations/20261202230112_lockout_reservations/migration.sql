-- AlterTable
ALTER TABLE "User" ADD COLUMN     "failedLoginChecked" INTEGER NOT NULL DEFAULT 0;
