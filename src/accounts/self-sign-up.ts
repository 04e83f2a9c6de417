// Accounts people created themselves (src/sign-up) must prove their email before they can
// finish signing in to an application; accounts an operator created are vouched for by them.
import type { Db } from '../db/client.js';

export async function recordSelfSignUp(prisma: Db, userId: string): Promise<void> {
  await prisma.selfSignUp.create({ data: { userId } });
}

/** True for a self-created account whose email is not verified yet. */
export async function mustVerifyEmailFirst(prisma: Db, userId: string): Promise<boolean> {
  const [signUp, user] = await Promise.all([
    prisma.selfSignUp.findUnique({ where: { userId } }),
    prisma.user.findUnique({ where: { id: userId }, select: { emailVerified: true } }),
  ]);
  return signUp !== null && user !== null && !user.emailVerified;
}
