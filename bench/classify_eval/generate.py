# ruff: noqa: E501 - the texts below are documents, and a Word paragraph is one long line.
"""Write the binary documents (.pdf, .docx, .pptx) of the classify evaluation set.

    .venv/bin/python bench/classify_eval/generate.py

The plain-text documents beside them are hand-written files; these few exist so the set
also goes through the PDF, Word and PowerPoint converters. PDFs are written byte by byte
(no PDF writer is installed), .docx as a minimal WordprocessingML package, .pptx with
python-pptx. The output is committed; re-run only after editing the texts below.
"""

from __future__ import annotations

import io
import textwrap
import zipfile
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from pptx import Presentation
from pptx.util import Inches

DOCUMENTS = Path(__file__).resolve().parent / "documents"
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)

# ---------------------------------------------------------------------------- texts

WHOLESALE_INVOICE = """\
GREENHILL FRESH PRODUCE LTD
Unit 12, New Covent Garden Market, London SW8 5EE
Tel 020 7946 0877  accounts@greenhillfresh.co.uk  Company no. 06234418

SALES INVOICE                                   Invoice no: 0051873
                                                Tax point: 21/06/2024
Account: TRATT01                                Delivery note: DN-77120
Invoice address:                                Deliver to:
Trattoria Bellavista Ltd                        Trattoria Bellavista (kitchen door)
45 Upper Street                                 45 Upper Street
London N1 0PN                                   London N1 0PN

Code    Product                          Unit    Qty   Price    VAT   Net
TOM-SM  San Marzano tomatoes             5kg      4    14.20    Z     56.80
BAS-01  Basil, fresh bunch               each    12     0.95    Z     11.40
COU-GR  Courgettes, green                5kg      2     9.60    Z     19.20
LEM-AM  Amalfi lemons                    kg       3     6.80    Z     20.40
BUR-PU  Burrata, Puglia 125g             each    24     2.35    Z     56.40
OIL-EV  Extra virgin olive oil           5L       1    38.50    S     38.50
CRA-PL  Plastic crates (returnable)      each     6     4.00    O     24.00
CRA-RT  Crates returned                  each    -6     4.00    O    -24.00

                                          Goods (zero rated)       164.20
                                          Goods (standard rated)    38.50
                                          VAT @ 20% on 38.50         7.70
                                          INVOICE TOTAL            210.40

Terms: payment 7 days from invoice date. Please quote account TRATT01.
Bank: Lloyds, sort code 30-94-57, account 22107759.
Claims for shortages or damaged goods must be made on the day of delivery.
Z = zero rated, S = standard rated, O = outside the scope of VAT
"""

LEGAL_FEES_INVOICE = """\
# Pemberton Shaw LLP — Solicitors
1 Victoria Square, Birmingham B1 1BD · DX 13050 Birmingham · VAT No. 193 5521 64

**FEE NOTE / INVOICE**

|  |  |
|---|---|
| Invoice number | PS/24/10442 |
| Invoice date | 31 July 2024 |
| Client | Aldridge Bakeries Ltd |
| Matter | 018832/004 — Supply agreement with Midlands Grocers Co-operative |
| Fee earner | Sarah Pemberton (Partner), Ian Cho (Associate) |

**Professional charges** for the period 1 July 2024 to 31 July 2024, including reviewing the draft supply agreement received from the co-operative, advising on liability caps and termination rights, preparing a mark-up and two calls with the client's finance director.

| Fee earner | Hours | Rate | Amount |
|---|---|---|---|
| S. Pemberton, Partner | 4.2 | £340.00 | £1,428.00 |
| I. Cho, Associate | 9.5 | £215.00 | £2,042.50 |
| Trainee solicitor | 3.0 | £120.00 | £360.00 |

| | |
|---|---|
| Total professional charges | £3,830.50 |
| Disbursements: Companies House search fees | £12.00 |
| VAT at 20% on charges | £766.10 |
| **Total amount due** | **£4,608.60** |
| Less: money held on account | (£1,000.00) |
| **Balance now payable** | **£3,608.60** |

Payment is due within 30 days of the invoice date. Please pay to our office account, Barclays Bank, sort code 20-00-00, account 44102288, quoting PS/24/10442.

If you are unhappy with this bill you may have a right to object to it by applying to the court for an assessment under Part III of the Solicitors Act 1974.
"""

EMPLOYMENT_AGREEMENT = """\
# EMPLOYMENT AGREEMENT

This Employment Agreement (the "Agreement") is made on 2 September 2024 between Fjordline Analytics AS, org. no. 923 118 402, Dronning Eufemias gate 16, 0191 Oslo (the "Company"), and Mei Lin Zhao, residing at Thereses gate 31, 0168 Oslo (the "Employee").

# 1. Position and start date
The Employee is employed as Senior Data Scientist, reporting to the Head of Analytics. Employment commences on 1 October 2024. The first six (6) months are a probationary period during which either party may terminate with fourteen (14) days' notice.

# 2. Place of work and hours
The place of work is the Company's Oslo office, with up to two days per week of remote work by agreement. Normal working hours are 37.5 hours per week, Monday to Friday. The position is exempt from overtime provisions under section 10-12 (2) of the Working Environment Act.

# 3. Remuneration
The Employee shall receive an annual base salary of NOK 1,020,000, paid monthly on the 20th. Salary is reviewed annually in June. The Employee is eligible for the Company's bonus scheme as amended from time to time.

# 4. Pension and insurance
The Employee is enrolled in the Company's defined-contribution pension scheme with a contribution of 7% of salary, and is covered by group life and occupational injury insurance.

# 5. Holidays
The Employee is entitled to five (5) weeks of paid holiday per year in accordance with the Holidays Act.

# 6. Confidentiality
The Employee shall keep confidential all information about the Company's business, clients and methods, both during and after employment.

# 7. Intellectual property
All rights to results, software and inventions created by the Employee in the course of employment vest in the Company, subject to the Employee Inventions Act.

# 8. Notice period
After the probationary period, the mutual notice period is three (3) months, counted from the first day of the month following notice. Notice must be given in writing.

# 9. Applicable law
This Agreement is governed by Norwegian law. Collective agreements: none.

Oslo, 2 September 2024

For Fjordline Analytics AS: ______________________ (Kari Nordmann, CEO)

Employee: ______________________ (Mei Lin Zhao)
"""

EQUIPMENT_LOAN_AGREEMENT = """\
LOAN AGREEMENT

Date: 4 March 2024

Lender:   Harbourside Community Finance CIC, 22 Quay Street, Cardiff CF10 1EA
Borrower: Tân Bakery Cooperative Ltd, 7 Crwys Road, Cardiff CF24 4NA

1. THE LOAN
The Lender agrees to lend the Borrower the principal sum of GBP 35,000 (the "Loan") to
finance the purchase of a deck oven and a spiral mixer (the "Equipment").

2. INTEREST
Interest accrues on the outstanding principal at a fixed rate of 7.9% per annum,
calculated daily on the basis of a 365-day year.

3. REPAYMENT
The Borrower shall repay the Loan and interest in 48 equal monthly instalments of
GBP 852.71, the first falling due on 1 May 2024 and thereafter on the first day of each
month. The Borrower may prepay all or part of the Loan at any time without penalty on
giving 30 days' written notice.

4. SECURITY
The Borrower's obligations are secured by a chattel mortgage over the Equipment and a
personal guarantee from each director, in the forms set out in Schedules 1 and 2.

5. COVENANTS
While any amount remains outstanding, the Borrower shall: (a) keep the Equipment insured
for its full replacement value, naming the Lender as loss payee; (b) deliver annual
accounts within six months of each financial year end; and (c) not sell or dispose of
the Equipment without the Lender's prior written consent.

6. EVENTS OF DEFAULT
Each of the following is an Event of Default: (a) failure to pay any instalment within
14 days of its due date; (b) breach of any covenant not remedied within 30 days of
notice; (c) insolvency, administration or winding up of the Borrower. On an Event of
Default the Lender may declare the whole Loan immediately due and payable.

7. NOTICES
Notices must be in writing and delivered by hand, by first-class post or by email to the
addresses above.

8. GOVERNING LAW
This Agreement is governed by the law of England and Wales and the parties submit to the
exclusive jurisdiction of its courts.

Signed for and on behalf of the Lender:    ____________________  (Director)
Signed for and on behalf of the Borrower:  ____________________  (Director)
                                           ____________________  (Director)
"""

MARKETING_RESUME = """\
# PRIYANKA DESAI
Marketing Manager | Brand & Growth
Mumbai / Bengaluru · +91 98200 44172 · priyanka.desai@gmail.com · linkedin.com/in/priyankadesai

# PROFILE
Consumer marketing manager with 10 years across FMCG and D2C brands. I build brands that people talk about and growth engines that finance can trust, from positioning and campaigns to performance marketing and CRM.

# EXPERIENCE
**Marketing Manager, Skincare** — Nykaa Fashion & Beauty, Mumbai (Jan 2021 – present)
- Own a INR 40 crore annual budget across brand, performance and influencer channels.
- Relaunched the private-label sunscreen range; category share up from 6% to 14% in 18 months.
- Built a CRM programme with 11 lifecycle journeys; repeat purchase rate +9 points.

**Senior Brand Manager** — Marico Ltd, Mumbai (Jun 2016 – Dec 2020)
- Led the Parachute Advansed hair-oil portfolio (INR 600 crore); launched two variants.
- Ran consumer research and concept tests with Kantar; cut concept-to-launch time by 4 months.

**Assistant Brand Manager** — Hindustan Unilever, Mumbai (Jul 2014 – May 2016)
- Management trainee programme; sales rotation in Rajasthan territory.

# EDUCATION
MBA, Marketing — Indian Institute of Management Ahmedabad, 2014
B.Com — Narsee Monjee College of Commerce and Economics, Mumbai, 2011

# SKILLS
Brand strategy · Campaign planning · Google Ads & Meta Ads · GA4 · CleverTap · Consumer research · P&L management · Team leadership (team of 7)

# AWARDS
Effie India Silver (2022) for the "Sun-Safe Selfie" campaign
"""

ACCOUNTANT_RESUME = """\
JAMES O'CONNOR, CPA
Dallas, TX 75204  |  (214) 555-0166  |  joconnor.cpa@gmail.com

SUMMARY
Detail-oriented staff accountant with four years of public and corporate accounting
experience. Strong in month-end close, account reconciliations and audit preparation.
Advanced Excel (Power Query, pivot tables) and NetSuite user.

PROFESSIONAL EXPERIENCE
Senior Staff Accountant                                            2022 - Present
Lone Star Medical Devices, Inc., Irving, TX
- Prepare monthly journal entries, accruals and balance sheet reconciliations for three
  entities; close completed in 5 business days (previously 8)
- Manage the fixed asset register (1,900 assets) and depreciation schedules
- Main point of contact for external auditors for cash, prepaid and fixed assets
- Automated the intercompany reconciliation in Excel, saving 10 hours per month

Audit Associate                                                    2020 - 2022
Whitley Penn LLP, Dallas, TX
- Performed audit procedures for private companies in manufacturing and healthcare
  with revenues of $20M to $300M
- Tested internal controls and drafted financial statement footnotes

EDUCATION
Master of Science in Accounting, University of Texas at Dallas, 2020
Bachelor of Business Administration, Accounting, Texas Tech University, 2019

CERTIFICATIONS
Certified Public Accountant, Texas (2021)

TECHNICAL SKILLS
NetSuite, QuickBooks, Excel (advanced), Power BI, FloQast, US GAAP, ASC 606, ASC 842
"""

PEROVSKITE_PAPER = """\
Suppressing Halide Segregation in Wide-Bandgap Perovskite Solar Cells
with a Bifunctional Ammonium Additive

Lucía Navarro(1), Hyun-woo Park(2), Oliver Grant(1), Ana Ferreira(1)*
(1) Institute of Materials Science, University of Valencia, Spain
(2) Department of Materials Science and Engineering, KAIST, Republic of Korea
*Corresponding author: ana.ferreira@uv.es

Abstract
Mixed iodide-bromide perovskites with bandgaps of 1.65-1.80 eV are needed for tandem
solar cells, but suffer from light-induced halide segregation that lowers the open-circuit
voltage. Here we introduce 4-fluorophenethylammonium thiocyanate (F-PEASCN) as an additive
that passivates grain boundaries and raises the activation energy for halide migration
from 0.27 to 0.49 eV. Devices with a 1.68 eV absorber reach a power conversion efficiency
of 21.4% and retain 93% of their initial efficiency after 1,000 h of maximum power point
tracking at 65 C under 1-sun illumination. Photoluminescence mapping shows no detectable
iodide-rich domains after 30 min of illumination, compared with 4 min for control films.
Keywords: perovskite; halide segregation; passivation; tandem photovoltaics

1. Introduction
Perovskite/silicon tandem cells have exceeded 33% efficiency [1], yet the stability of the
wide-bandgap top cell remains a bottleneck [2,3]. Under illumination, mixed-halide films
phase-separate into iodide-rich and bromide-rich regions (the Hoke effect) [4], pinning the
voltage. Additives such as alkali cations [5] and Lewis bases [6] slow segregation, but
often at the cost of efficiency.

2. Experimental Section
Film fabrication: Cs0.17FA0.83Pb(I0.77Br0.23)3 precursor solutions (1.2 M in DMF:DMSO
4:1) were spin-coated at 4,000 rpm in a nitrogen glovebox, with chlorobenzene antisolvent.
F-PEASCN was added at 0 to 1.0 mol%. Devices used the p-i-n architecture
ITO/Me-4PACz/perovskite/C60/BCP/Ag.
Characterisation: X-ray diffraction, time-resolved photoluminescence, Kelvin probe force
microscopy and temperature-dependent conductivity measurements were performed as described
in the Supporting Information.

3. Results and Discussion
Figure 1 shows that 0.5 mol% F-PEASCN increases the average grain size from 310 to 520 nm.
Time-resolved PL lifetimes rise from 0.8 to 2.6 us, indicating reduced non-radiative
recombination. The activation energy for ion migration, extracted from Arrhenius plots of
conductivity (Figure 3), increases markedly. Champion devices (Table 1) show Voc = 1.25 V,
Jsc = 20.6 mA cm-2 and FF = 83.1%. We attribute the improved photostability to
thiocyanate coordination with under-coordinated Pb2+ and fluorinated ammonium cations
occupying surface A-sites.

4. Conclusions
A bifunctional additive simultaneously passivates defects and suppresses halide migration,
a promising route to stable wide-bandgap perovskites for tandems.

References
[1] M. A. Green et al., Prog. Photovolt. 32 (2024) 3-13.
[2] K. Xiao et al., Nat. Energy 5 (2020) 870-880.
[3] A. Al-Ashouri et al., Science 370 (2020) 1300-1309.
[4] E. T. Hoke et al., Chem. Sci. 6 (2015) 613-617.
[5] M. Abdi-Jalebi et al., Nature 555 (2018) 497-501.
[6] D. W. deQuilettes et al., ACS Energy Lett. 1 (2016) 438-444.
"""

INTERIM_REPORT = """\
VALMONT INDUSTRIE SE
HALF-YEAR FINANCIAL REPORT - 1 JANUARY TO 30 JUNE 2024

Key figures (EUR million)                       H1 2024     H1 2023    Change
Order intake                                      1,412       1,356     +4.1%
Sales                                             1,298       1,247     +4.1%
EBITDA                                              221         196    +12.8%
EBIT                                                148         127    +16.5%
EBIT margin                                       11.4%       10.2%   +1.2 pp
Net income attributable to shareholders              96          81    +18.5%
Earnings per share (EUR)                           2.14        1.80    +18.9%
Free cash flow                                       64          38    +68.4%
Net financial debt (30 June / 31 Dec)               612         655     -6.6%
Employees (30 June)                              11,830      11,642     +1.6%

INTERIM MANAGEMENT REPORT
Business development. Valmont Industrie grew sales by 4.1% in the first half of 2024,
with organic growth of 3.2% and a positive contribution from the acquisition of Hydrotec
S.r.l. Demand in the Water Technologies division remained strong, while Industrial Drives
was affected by weak European machinery markets in the second quarter.

Results of operations. EBITDA improved to EUR 221 million thanks to price increases,
lower freight costs and the efficiency programme launched in 2023. Financial result was
EUR -18 million (H1 2023: EUR -21 million). The tax rate was 27.5%.

Financial position and net assets. Total assets rose to EUR 3,984 million (31 December
2023: EUR 3,911 million). The equity ratio stood at 44.8%. Cash flow from operating
activities was EUR 131 million, and capital expenditure EUR 67 million.

Opportunities and risks. There have been no material changes to the opportunities and
risks described in the 2023 Annual Report.

Outlook. For the full year 2024 the Executive Board confirms its forecast of sales between
EUR 2.6 and 2.7 billion and an EBIT margin of 11 to 12 percent.

CONDENSED CONSOLIDATED INCOME STATEMENT (unaudited)
                                                H1 2024     H1 2023
Sales                                             1,298       1,247
Cost of sales                                      -892        -871
Gross profit                                        406         376
Selling and administrative expenses                -243        -236
Other operating income / expenses, net              -15         -13
EBIT                                                148         127
Financial result                                    -18         -21
Income taxes                                        -36         -29
Net income                                           94          77

RESPONSIBILITY STATEMENT
To the best of our knowledge, and in accordance with the applicable reporting principles
for interim financial reporting, the interim consolidated financial statements give a true
and fair view of the net assets, financial position and results of operations of the
Group. Lyon, 30 July 2024 - The Executive Board
"""

BANK_QUARTERLY = """\
# Coastal Federal Bancorp, Inc. Announces First Quarter 2024 Results

WILMINGTON, N.C., April 23, 2024 — Coastal Federal Bancorp, Inc. (NYSE: CFBK), the holding company for Coastal Federal Bank, today reported net income of $18.6 million, or $0.92 per diluted share, for the quarter ended March 31, 2024, compared with $21.3 million, or $1.05 per diluted share, for the first quarter of 2023.

# First quarter highlights
- Net interest income of $52.4 million; net interest margin of 3.21% (Q4 2023: 3.28%).
- Total loans grew 1.8% from December 31, 2023 to $5.12 billion, led by commercial real estate and small business lending.
- Total deposits of $5.64 billion; non-interest-bearing deposits were 24% of the total.
- Provision for credit losses of $2.1 million; net charge-offs were 0.09% of average loans (annualized).
- Common equity tier 1 capital ratio of 11.9%; tangible book value per share of $31.40, up 2.3% from the prior quarter.
- The Board declared a quarterly cash dividend of $0.28 per share.

# Selected financial data (unaudited, dollars in thousands)

| | Q1 2024 | Q4 2023 | Q1 2023 |
|---|---|---|---|
| Net interest income | 52,418 | 53,977 | 57,102 |
| Non-interest income | 9,845 | 9,210 | 8,664 |
| Non-interest expense | 36,902 | 37,415 | 35,118 |
| Net income | 18,587 | 19,044 | 21,306 |
| Return on average assets | 1.12% | 1.15% | 1.31% |
| Efficiency ratio | 59.3% | 59.2% | 53.4% |

"Margins are stabilizing as deposit costs level off, and credit quality remains excellent," said Chief Executive Officer Robert Lamb. "We remain well capitalized and positioned to grow with our markets in the Carolinas."

# Conference call
The Company will host a conference call for analysts and investors at 10:00 a.m. ET on April 24, 2024.
"""

RENTAL_APPLICATION = """\
MAPLE & STONE PROPERTY MANAGEMENT
RENTAL APPLICATION                                   Application fee: $45 (non-refundable)

Each adult (18+) who will live in the unit must complete a separate application.

Property address applied for: ____________________________________  Unit: ______
Desired move-in date: ____/____/______     Monthly rent: $__________

APPLICANT INFORMATION
Full legal name: _________________________________________________
Date of birth: ____/____/______   SSN or ITIN: ______-____-______
Phone: ______________________   Email: _____________________________
Driver's license no. / state: _____________________

RESIDENCE HISTORY (last 3 years)
Current address: _______________________________________________________
Dates from ______ to ______   Rent $________   Reason for leaving: _____________
Landlord name and phone: ____________________________________________
Previous address: ______________________________________________________
Dates from ______ to ______   Landlord name and phone: _______________________

EMPLOYMENT AND INCOME
Current employer: ____________________________   Position: ______________________
Supervisor and phone: _____________________________   Start date: __________
Gross monthly income: $__________   Other income (source and amount): ____________

OCCUPANTS AND PETS
Other occupants (name, age, relationship): ____________________________________
Pets?  [ ] No  [ ] Yes - type, breed, weight: ________________________________
Vehicles (make, model, plate): ________________________________________________

BACKGROUND
Have you ever been evicted?                         [ ] Yes  [ ] No
Have you ever filed for bankruptcy?                 [ ] Yes  [ ] No
Have you ever been convicted of a felony?           [ ] Yes  [ ] No
If yes to any, please explain: ______________________________________________

AUTHORIZATION
I certify that the information provided is true and complete and authorize Maple & Stone
Property Management to verify it, including obtaining credit and background reports.

Applicant signature: _____________________________   Date: ______________
"""

PATIENT_INTAKE = """\
# Lakeview Dental Care — New Patient Registration

Please complete both sides of this form before your first appointment. All information is kept confidential.

# Patient details
| | |
|---|---|
| Surname | |
| First name | |
| Date of birth | |
| Gender | ☐ Female ☐ Male ☐ Prefer to self-describe: ______ |
| Address | |
| Mobile | |
| Email | |
| Preferred contact | ☐ Phone ☐ SMS ☐ Email |

# Medical history
Are you currently taking any medicines (including inhalers, contraceptives, blood thinners)? ☐ Yes ☐ No
If yes, please list: ________________________________________

Do you have, or have you ever had, any of the following?
| Condition | Yes | No |
|---|---|---|
| Heart problems or a heart murmur | ☐ | ☐ |
| High or low blood pressure | ☐ | ☐ |
| Diabetes | ☐ | ☐ |
| Asthma or breathing problems | ☐ | ☐ |
| Allergy to penicillin, latex or local anaesthetic | ☐ | ☐ |
| Pregnant or breastfeeding | ☐ | ☐ |

Do you smoke or use tobacco products? ☐ Yes ☐ No   Units of alcohol per week: ____

# Dental history
Date of last dental visit: ______  Reason for today's visit: ________________________
Are you nervous about dental treatment? ☐ Not at all ☐ A little ☐ Very

# Consent
I confirm that the information I have given is correct to the best of my knowledge. I will inform the practice of any changes to my medical history.

Patient / parent signature: ______________________ Date: ____________

*For practice use: NHS ☐ Private ☐  Exemption checked ☐  Entered by: ______*
"""

# Slides: (title, bullets); the first slide is the title slide (title, subtitle).
PRODUCT_ROADMAP = [
    ("Ledgerly 2025 Product Roadmap", "Product All-Hands · January 2025"),
    ("Where we are", ["12,400 paying teams (+41% YoY)", "NPS 47", "Top ask: bank feeds"]),
    (
        "Themes for 2025",
        ["Automate the close", "Multi-entity accounting", "Mobile approvals"],
    ),
    (
        "Q1: Bank feeds & rules",
        ["Open-banking feeds for UK/EU", "Auto-categorisation rules", "Beta: 50 customers"],
    ),
    ("Q2: Multi-entity", ["Consolidated reporting", "Intercompany eliminations"]),
    ("H2 bets", ["Mobile app v2", "AI receipt matching (exploration)", "US sales tax"]),
    ("What we're NOT doing", ["Payroll", "Inventory management"]),
    ("Questions?", ["#product-roadmap on Slack"]),
]
ONBOARDING = [
    ("Welcome to Harbor Health!", "New Hire Orientation · People Team"),
    (
        "Your first week",
        ["Day 1: laptop, badge, benefits", "Day 2: meet your buddy", "Day 5: team lunch"],
    ),
    ("Our mission", ["Make primary care easy to reach for every family in Ohio"]),
    ("Our values", ["Patients first", "Own the outcome", "Be kind, be direct"]),
    (
        "Tools you'll use",
        ["Slack for chat", "Google Workspace", "Workday for time off and payslips"],
    ),
    (
        "Benefits at a glance",
        ["Medical, dental, vision from day 1", "401(k) with 4% match", "20 days PTO"],
    ),
    ("Who to ask", ["IT: help@harborhealth.com", "People team: #ask-people"]),
]
QBR = [
    ("Q3 2024 Business Review", "EMEA Sales · prepared for the leadership team"),
    ("Headlines", ["Bookings €8.4M (104% of target)", "Net revenue retention 118%"]),
    (
        "Pipeline",
        ["Q4 pipeline €21M, 3.1x coverage", "Win rate 27% (Q2: 24%)", "2 deals > €1M"],
    ),
    ("Wins", ["Deutsche Wohnen – 3-year platform deal", "Carrefour Belgium expansion"]),
    ("Losses & lessons", ["Lost Ahold on price", "Need faster security reviews"]),
    ("Asks", ["2 more solution engineers for DACH", "Partner budget for Nordics"]),
    ("Next steps", ["Q4 forecast call 14 Oct", "Kick-off planning for FY25"]),
]
CONFERENCE_TALK = [
    (
        "Federated Learning on the Edge: Lessons from 2 Million Phones",
        "Priya Raman & Tomás Ortega · MLSys 2024",
    ),
    ("Motivation", ["Keyboard prediction needs user data", "Data must stay on device"]),
    (
        "Our system",
        ["Secure aggregation", "Differential privacy (eps = 8)", "Async rounds"],
    ),
    ("Result 1: accuracy", ["+6.3% next-word accuracy vs. server-only baseline"]),
    ("Result 2: cost", ["Battery impact < 0.5% per day", "Upload 120 KB per round"]),
    ("What went wrong", ["Stragglers", "Clock skew", "Skewed client sampling"]),
    ("Takeaways", ["Start with telemetry", "Simulate stragglers early"]),
    ("Thank you!", ["Paper & code: fl-edge.github.io"]),
]
SALES_PITCH = [
    ("RouteWise", "Cut your delivery costs by 18% in 90 days"),
    ("The problem", ["Drivers waste 1 in 5 miles", "Dispatch still done in spreadsheets"]),
    ("Our solution", ["Dynamic route optimisation", "Live ETA for customers"]),
    ("How it works", ["Import orders", "Optimise in 30 seconds", "Push to driver app"]),
    ("Customers", ["FreshBox (-22% fuel)", "City Florists", "Medlink Pharmacy"]),
    ("Pricing", ["£29 per vehicle per month", "No setup fee", "Cancel anytime"]),
    ("Let's start a pilot", ["30-day free trial", "hello@routewise.io"]),
]


# ------------------------------------------------------------------------ writers


def make_pdf(text: str) -> bytes:
    """A plain PDF of ``text`` (Helvetica 10pt, 62 lines a page, long lines wrapped)."""
    lines: list[str] = []
    for line in text.splitlines():
        lines.extend(textwrap.wrap(line, 100) or [""])
    pages = [lines[i : i + 62] for i in range(0, len(lines), 62)]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects[2] = f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode()
    for i, page in enumerate(pages):
        commands = ["BT", "/F1 10 Tf", "12 TL", "50 750 Td"]
        for line in page:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            commands.append(f"({escaped}) Tj T*")
        commands.append("ET")
        stream = "\n".join(commands).encode("latin-1")
        objects[4 + 2 * i] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i)
        )
        objects[5 + 2 * i] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    out = bytearray(b"%PDF-1.4\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref_at = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref_at)
    return bytes(out)


def make_docx(text: str) -> bytes:
    """A minimal .docx: ``# `` lines become bold headings, ``|`` rows become tables."""
    body: list[str] = []
    table: list[list[str]] = []

    def flush_table() -> None:
        if table:
            rows = "".join(
                "<w:tr>"
                + "".join(f"<w:tc><w:p>{_run(cell)}</w:p></w:tc>" for cell in row)
                + "</w:tr>"
                for row in table
            )
            body.append(f"<w:tbl>{rows}</w:tbl>")
            table.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(set(cell) <= {"-", ":"} for cell in cells):
                table.append(cells)
            continue
        flush_table()
        if line.startswith("# "):
            body.append(f"<w:p>{_run(line[2:], bold=True)}</w:p>")
        else:
            body.append(f"<w:p>{_run(line)}</w:p>")
    flush_table()
    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    document = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{ns}"><w:body>{"".join(body)}</w:body></w:document>'
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in (
            ("[Content_Types].xml", content_types),
            ("_rels/.rels", rels),
            ("word/document.xml", document),
        ):
            package.writestr(zipfile.ZipInfo(name, _ZIP_TIME), data)
    return buffer.getvalue()


def _run(text: str, *, bold: bool = False) -> str:
    # Inline **bold** markers become bold runs, as a word processor would store them.
    runs = []
    for index, part in enumerate(text.split("**")):
        if part:
            properties = "<w:rPr><w:b/></w:rPr>" if bold or index % 2 else ""
            runs.append(f'<w:r>{properties}<w:t xml:space="preserve">{escape(part)}</w:t></w:r>')
    return "".join(runs)


def make_pptx(slides: Sequence[tuple[str, object]]) -> bytes:
    """A deck with a title slide, then one title-and-bullets slide per entry."""
    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    for index, (title, content) in enumerate(slides):
        if index == 0:
            slide = deck.slides.add_slide(deck.slide_layouts[0])
            slide.shapes.title.text = title
            slide.placeholders[1].text = str(content)
            continue
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        frame = slide.placeholders[1].text_frame
        bullets = list(content) if isinstance(content, list) else [str(content)]
        frame.text = bullets[0]
        for bullet in bullets[1:]:
            frame.add_paragraph().text = bullet
    buffer = io.BytesIO()
    deck.save(buffer)
    return _fixed_times(buffer.getvalue())


def _fixed_times(package: bytes) -> bytes:
    """The zip package again with fixed entry times, so re-running changes no bytes."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(package)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            target.writestr(zipfile.ZipInfo(entry.filename, _ZIP_TIME), source.read(entry))
    return out.getvalue()


def main() -> None:
    """Write every binary document of the set."""
    outputs: dict[str, bytes] = {
        "invoice/greenhill-wholesale-produce.pdf": make_pdf(WHOLESALE_INVOICE),
        "invoice/pemberton-shaw-fee-note.docx": make_docx(LEGAL_FEES_INVOICE),
        "contract/fjordline-employment-agreement.docx": make_docx(EMPLOYMENT_AGREEMENT),
        "contract/bakery-equipment-loan.pdf": make_pdf(EQUIPMENT_LOAN_AGREEMENT),
        "resume/marketing-manager.docx": make_docx(MARKETING_RESUME),
        "resume/staff-accountant.pdf": make_pdf(ACCOUNTANT_RESUME),
        "scientific-paper/perovskite-halide-segregation.pdf": make_pdf(PEROVSKITE_PAPER),
        "financial-report/valmont-half-year-report.pdf": make_pdf(INTERIM_REPORT),
        "financial-report/coastal-bancorp-q1-results.docx": make_docx(BANK_QUARTERLY),
        "form/rental-application.pdf": make_pdf(RENTAL_APPLICATION),
        "form/dental-patient-registration.docx": make_docx(PATIENT_INTAKE),
        "slide-deck/product-roadmap-2025.pptx": make_pptx(PRODUCT_ROADMAP),
        "slide-deck/new-hire-orientation.pptx": make_pptx(ONBOARDING),
        "slide-deck/emea-q3-business-review.pptx": make_pptx(QBR),
        "slide-deck/federated-learning-talk.pptx": make_pptx(CONFERENCE_TALK),
        "slide-deck/routewise-sales-pitch.pptx": make_pptx(SALES_PITCH),
    }
    for relative, data in outputs.items():
        target = DOCUMENTS / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        print(f"wrote {target.relative_to(DOCUMENTS.parent)} ({len(data):,} bytes)")


if __name__ == "__main__":
    main()
