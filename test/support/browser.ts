// Debian's Chromium, headless, driven by playwright-core: opens a local page and records every
// request it makes.
import { chromium, type Browser, type Page } from 'playwright-core';
import { pathToFileURL } from 'node:url';

export const chromiumPath = process.env.MICRONET_CHROMIUM ?? '/usr/bin/chromium';

let browser: Browser | undefined;

/** A page showing `file` in the given colour scheme, `width` pixels wide, and the URLs it requested. */
export async function openPage(
  file: string,
  colorScheme: 'light' | 'dark',
  width = 1500,
): Promise<{ page: Page; requests: string[] }> {
  browser ??= await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  const page = await browser.newPage({ colorScheme, viewport: { width, height: 1000 } });
  const requests: string[] = [];
  page.on('request', (r) => {
    requests.push(r.url());
  });
  await page.goto(pathToFileURL(file).href);
  return { page, requests };
}

export async function closeBrowser(): Promise<void> {
  await browser?.close();
  browser = undefined;
}
