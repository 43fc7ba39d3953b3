"""The bundled offline sample: small, hand-written data in the real datasets' formats.

A fresh clone runs the whole pipeline on this sample with no download. Every word
below was written for this project (nothing is copied from EmpatheticDialogues or
QMSum); only the *formats* follow the real datasets, so the real loaders read it:

* EmpatheticDialogues, original distribution layout: ``empathetic_dialogues/
  {train,valid,test}.csv``, header ``conv_id,utterance_idx,context,prompt,
  speaker_idx,utterance,selfeval,tags``, plain commas, no quoting, ``_comma_``
  for a comma inside text, ``\\n`` line ends, one row per utterance.
  train has one conversation per emotion label (32); valid and test have 12
  each, four positive, four negative and four neutral.
* QMSum: ``qmsum/{Academic,Committee,Product}/{train,val,test}/<id>.json``, one
  meeting per file with exactly QMSum's four keys and ``json.dumps(indent=4)``
  layout, plus ``qmsum/Product/jsonl/train.jsonl`` (one meeting per line).
  Academic and Product turns use QMSum's spoken style (space before
  punctuation, ``um``/``uh``, ``{disfmarker}``, ``{vocalsound}``); Committee
  turns read like an edited public record, as in QMSum.

:func:`write_sample` writes it all, byte-identical on every run; ``mascot sample
write data/sample`` calls it. ``tests/test_sample.py`` checks that the committed
``data/sample`` equals what this module writes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ED_EMOTIONS",
    "ED_HEADER",
    "ED_SPLITS",
    "QMSUM_DOMAINS",
    "QMSUM_SPLITS",
    "QMSUM_KEYS",
    "Conversation",
    "Meeting",
    "empathetic_rows",
    "meeting_json",
    "write_sample",
]

ED_HEADER = "conv_id,utterance_idx,context,prompt,speaker_idx,utterance,selfeval,tags"
ED_SPLITS = ("train", "valid", "test")
ED_EMOTIONS = (
    "afraid", "angry", "annoyed", "anticipating", "anxious", "apprehensive", "ashamed", "caring",
    "confident", "content", "devastated", "disappointed", "disgusted", "embarrassed", "excited",
    "faithful", "furious", "grateful", "guilty", "hopeful", "impressed", "jealous", "joyful",
    "lonely", "nostalgic", "prepared", "proud", "sad", "sentimental", "surprised", "terrified",
    "trusting",
)  # fmt: skip
QMSUM_DOMAINS = ("Academic", "Committee", "Product")
QMSUM_SPLITS = ("train", "val", "test")
QMSUM_KEYS = ("topic_list", "general_query_list", "specific_query_list", "meeting_transcripts")


# ---------------------------------------------------------------------------
# EmpatheticDialogues
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    """One EmpatheticDialogues conversation: the speaker opens, the listener answers, alternating."""

    emotion: str
    prompt: str
    utterances: tuple[str, ...]


def _conv(emotion: str, prompt: str, *utterances: str) -> Conversation:
    return Conversation(emotion, prompt, utterances)


ED_TRAIN: tuple[Conversation, ...] = (
    _conv(
        "afraid",
        "I heard someone trying the handle of my back door late last night while I was home alone.",
        "I barely slept last night. Around two in the morning someone rattled the handle on my back door.",
        "That sounds terrifying. Were you able to call anyone?",
        "I called the police line and they sent a car by, but whoever it was had already gone.",
        "I'm glad you're safe. A motion light by that door might help you feel a bit more secure.",
        "My landlord said he'd put one up this week. I'm staying at my sister's until then.",
    ),
    _conv(
        "angry",
        "My roommate ate the birthday cake I had ordered for my girlfriend, the day before her party.",
        "I came home and half of the cake I ordered for my girlfriend's birthday was gone. My roommate ate it.",
        "Oh no, the day before the party? Did he at least apologize?",
        "He said he thought it was for the apartment. It had her name written on it in icing!",
        "That's hard to misread. I'd be angry too. Can the bakery make another one in time?",
        "They can, and he's paying for it. That part wasn't up for debate.",
    ),
    _conv(
        "annoyed",
        "My neighbor's car alarm has gone off every night this week and he never seems to hear it.",
        "For the fifth night in a row my neighbor's car alarm went off at midnight.",
        "Every night? Does it stop on its own or just keep going?",
        "It goes for about ten minutes. I left a polite note on his windshield today.",
        "A note is a good first step. Hopefully he just doesn't realize how loud it is from inside.",
    ),
    _conv(
        "anticipating",
        "My daughter's first piano recital is on Saturday and I've been counting down the days.",
        "Saturday is my daughter's first piano recital. She has been practicing the same minuet for weeks.",
        "How exciting! Is she nervous or looking forward to it?",
        "A little of both. She made me promise to sit in the front row so she can see me.",
        "That's sweet. Bring tissues, first recitals tend to get the parents more than the kids.",
        "Ha, I already packed a whole box.",
    ),
    _conv(
        "anxious",
        "I have a biopsy on Thursday and I can't stop thinking about what the results might be.",
        "My doctor found a lump and I'm having a biopsy on Thursday. I can't focus on anything else.",
        "The waiting is so hard. Is someone going with you to the appointment?",
        "My husband took the day off. It helps, but my mind keeps jumping to the worst case.",
        "That's a very normal reaction. A lot of lumps turn out to be harmless, and either way you won't face it alone.",
        "Thank you. I needed to hear that today.",
    ),
    _conv(
        "apprehensive",
        "I'm starting a new job on Monday in a field I've never worked in before.",
        "On Monday I start a job in logistics. I've been a teacher for eight years, so it's a big jump.",
        "That's a brave change. What made you decide to switch?",
        "I was burned out, and I love planning things. But I'm worried everyone will know more than me.",
        "They probably will at first, and that's fine. Teachers learn fast and explain things well, which will help more than you think.",
    ),
    _conv(
        "ashamed",
        "I snapped at a cashier yesterday over a coupon and I still feel terrible about it.",
        "Yesterday I raised my voice at a cashier because a coupon wouldn't scan. It wasn't even her fault.",
        "We all have bad moments. Was something else going on that day?",
        "I'd had a rough morning at work, but that's no excuse. She looked so tired.",
        "It says a lot that you're still thinking about it. Could you stop by and apologize? That usually means a lot.",
        "I think I will. I shop there every week anyway.",
    ),
    _conv(
        "caring",
        "My elderly neighbor broke her wrist, so I've been doing her grocery shopping and walking her dog.",
        "My neighbor is 84 and broke her wrist last week, so I've been doing her shopping and walking her terrier.",
        "That's really kind of you. How is she holding up?",
        "She's frustrated she can't do things herself, but she loves the company. She tells me stories about the street in the sixties.",
        "It sounds like you both get something out of it. She's lucky to have you next door.",
    ),
    _conv(
        "confident",
        "I've practiced for my driving test for months and I know I'm going to pass tomorrow.",
        "My driving test is tomorrow and honestly, I feel ready.",
        "That's great to hear! What did you practice the most?",
        "Parallel parking. I was terrible at it, so my dad and I spent every Sunday in an empty church lot.",
        "All that practice will pay off. Is there a car waiting for you once you pass?",
        "My grandmother's old hatchback. It's not pretty, but it's mine.",
        "Sounds like the perfect first car. Good luck tomorrow!",
    ),
    _conv(
        "content",
        "After a long week I spent Sunday reading on the porch with a pot of tea and nowhere to be.",
        "I had the best Sunday. I sat on the porch all afternoon with a book and a pot of tea.",
        "That sounds lovely. What were you reading?",
        "A mystery novel my aunt lent me. I didn't even look at my phone until dinner.",
        "Days like that are underrated. Good for you for giving yourself the rest.",
    ),
    _conv(
        "devastated",
        "Our house was flooded last week and we lost most of our family photos and keepsakes.",
        "The river flooded last week and our ground floor was under three feet of water.",
        "I'm so sorry. Is everyone in your family safe?",
        "Everyone is fine, thank God. But our photo albums were in the basement. My kids' baby pictures are gone.",
        "That's a loss no insurance can cover. Might any relatives have copies of some of them?",
        "My mother might. I'm going to ask her this weekend.",
        "I really hope she has a few. Take care of yourself while you deal with all of this.",
    ),
    _conv(
        "disappointed",
        "I trained for a half marathon for four months and then it was cancelled because of a storm.",
        "The half marathon I've trained for since January was cancelled the night before because of a storm warning.",
        "Oh, that's such a letdown after all that work. Will they reschedule?",
        "They're offering a spot next year, but I really wanted to run it this spring.",
        "Maybe there's another race nearby in the next month or two? Your fitness won't disappear overnight.",
        "Good point. I found one in May. I might sign up.",
    ),
    _conv(
        "disgusted",
        "I opened the office fridge and found a container of soup that had been there since before the holidays.",
        "Someone left soup in the office fridge over the holidays. I opened it this morning without thinking.",
        "Oh no. How bad was it?",
        "There was a layer of fuzz on top and the smell followed me back to my desk. I nearly lost my breakfast.",
        "That's awful. Maybe it's time for a Friday fridge clean-out rule.",
    ),
    _conv(
        "embarrassed",
        "I waved back at someone across the street who was actually waving at the person behind me.",
        "Today a woman waved at me across the street, so I waved back with a big smile. She was waving at the guy behind me.",
        "Ha, that has happened to everyone at least once. Did she notice?",
        "She did, and so did he. I pretended I was fixing my hair.",
        "Smooth recovery! Nobody will remember it by tomorrow except you.",
    ),
    _conv(
        "excited",
        "I just got tickets to see my favorite band, who haven't toured in ten years.",
        "I got tickets! My favorite band is doing their first tour in ten years and I got two seats.",
        "No way, congratulations! Who are you taking?",
        "My brother. We played their album on every road trip when we were kids.",
        "That makes it even better. When is the show?",
        "In August. I'm already making a playlist for the drive.",
    ),
    _conv(
        "faithful",
        "My husband has been working overseas for ten months and we have stayed close the whole time.",
        "My husband has been working on a ship overseas for ten months. We still talk every single night.",
        "That takes real commitment. How do you manage the time difference?",
        "I call him before I go to bed, which is his breakfast. It's our little routine.",
        "What a lovely way to stay connected. When does he come home?",
        "In six weeks. The countdown is on the fridge.",
    ),
    _conv(
        "furious",
        "A contractor took my deposit for a kitchen remodel and then stopped answering my calls.",
        "I paid a contractor a three thousand dollar deposit to redo my kitchen and he has vanished.",
        "That's outrageous. Has he shown up at all since you paid?",
        "He came once to measure, and since then nothing. His phone goes straight to voicemail.",
        "I'd report him to the licensing board and ask your bank about disputing the payment. Keep every receipt and message.",
        "I've started a folder. I'm not letting this go.",
    ),
    _conv(
        "grateful",
        "When my car broke down on the highway, a stranger stopped and drove me to the next town.",
        "My car died on the highway last night and a stranger pulled over and drove me twenty miles to a garage.",
        "That's so kind. Were you able to thank him?",
        "I tried to give him gas money and he refused. He said someone once did the same for his daughter.",
        "Kindness travels like that. Maybe one day you'll get to pass it on.",
    ),
    _conv(
        "guilty",
        "I forgot my best friend's birthday this year and she never forgets mine.",
        "I completely forgot my best friend's birthday yesterday. She sends me a card every single year.",
        "Oh, that feeling is the worst. Have you talked to her since?",
        "I called this morning and she said it was fine, but she sounded a little hurt.",
        "A belated plan might help, like taking her to dinner this weekend. It shows she matters to you.",
        "I'll book her favorite Thai place tonight.",
    ),
    _conv(
        "hopeful",
        "I had my third interview for a job I really want and they said they'll decide by Friday.",
        "I just finished a third interview at a design firm I've wanted to work for since college.",
        "A third round is a great sign. How did it go?",
        "Really well, I think. The director laughed at my jokes and asked when I could start.",
        "That sounds promising! When will you hear back?",
        "By Friday. I'm trying not to check my email every five minutes.",
    ),
    _conv(
        "impressed",
        "My twelve-year-old nephew built a working weather station and programmed it himself.",
        "My nephew is twelve and he just built a weather station that posts the temperature to a website he coded.",
        "That's incredible for his age! Where did he learn all that?",
        "Mostly online videos and a lot of trial and error. He explained it to me and I understood maybe half.",
        "Sounds like he has a future in engineering. I hope someone keeps encouraging him.",
    ),
    _conv(
        "jealous",
        "My coworker got the promotion I applied for, and everyone keeps congratulating her in front of me.",
        "My coworker got the team lead position. I applied too, and I've been here two years longer.",
        "That stings. Did your manager give you any feedback?",
        "She said I was a close second and that my time will come. It's hard to watch everyone celebrate, though.",
        "It's okay to feel that way. Maybe ask what exactly would make you the clear choice next time.",
    ),
    _conv(
        "joyful",
        "My sister gave birth to twins this morning and I'm an aunt for the first time.",
        "I'm an aunt! My sister had twin girls at six this morning.",
        "Congratulations! Are the babies and your sister doing well?",
        "All three are healthy. I held one of them and cried like a baby myself.",
        "What a wonderful moment. Have they picked names yet?",
        "Rose and Amara. I'm going to spoil them terribly.",
    ),
    _conv(
        "lonely",
        "Since moving to a new city for work I eat dinner alone every night and don't really know anyone.",
        "I moved here for work three months ago and I still haven't made a single friend.",
        "That can be really isolating. What do you usually do after work?",
        "Mostly go home, cook, watch something. Weekends are the worst.",
        "Have you looked at any clubs or classes? A running group or a climbing gym can be an easy way to meet people.",
        "There's a board game night at a cafe near me. Maybe I'll try it on Thursday.",
        "That sounds like a great start. I hope you meet some good people there.",
    ),
    _conv(
        "nostalgic",
        "I found my old mixtapes in my parents' attic and spent the evening listening to them.",
        "I was clearing out my parents' attic and found a shoebox of mixtapes I made in high school.",
        "Oh, a time capsule! Do you still have anything to play them on?",
        "My dad's old stereo still works. I listened to them all evening and remembered every word.",
        "Music takes you right back, doesn't it? Which song hit you the hardest?",
        "The one my friends and I played on the last day of school. I sent them all a photo of the tape.",
    ),
    _conv(
        "prepared",
        "I've packed an emergency kit and made a plan with my family before hurricane season starts.",
        "Hurricane season starts next week, and this year we finally put together a proper emergency kit.",
        "Good for you. What did you put in it?",
        "Water, canned food, a radio, batteries, copies of our documents and food for the dog.",
        "It sounds like you thought of everything. Do you have a place to go if you need to leave?",
        "My aunt's house inland. The kids even practiced the route with us.",
    ),
    _conv(
        "proud",
        "My son, who has struggled with reading for years, just finished his first chapter book by himself.",
        "My son has dyslexia and reading has always been a battle. Last night he finished his first chapter book on his own.",
        "That's a huge milestone! He must be so proud of himself.",
        "He read the last page out loud to the whole family and then took a bow.",
        "I love that. All those years of hard work are paying off, for both of you.",
    ),
    _conv(
        "sad",
        "Our old family dog died at my parents' house and I didn't get home in time to say goodbye.",
        "My parents called to say our old dog Biscuit died this morning. He was fifteen.",
        "I'm so sorry. Fifteen years is a long time to have a best friend.",
        "I was supposed to visit next month. I keep thinking I should have gone sooner.",
        "You couldn't have known. He had a long life with a family that loved him, and that's what matters.",
        "Thank you. My mom is planting a tree for him in the garden.",
    ),
    _conv(
        "sentimental",
        "My grandmother let me read the letters my grandfather wrote her when he was in the navy.",
        "My grandmother let me read the letters my grandfather wrote her while he was at sea in the fifties.",
        "What a treasure. What were they like?",
        "Funny and sweet. He drew little cartoons of the other sailors in the margins.",
        "His personality must really come through. Are you keeping them somewhere safe?",
        "I'm scanning them so the whole family can have copies.",
    ),
    _conv(
        "surprised",
        "I came home from work to find twenty of my friends waiting to throw me a birthday party.",
        "I opened my door yesterday and twenty people jumped out and yelled happy birthday.",
        "A surprise party! Did you have any idea?",
        "None. My partner told me we were just ordering pizza. I almost dropped my groceries.",
        "That's a great partner. Sounds like a night to remember.",
    ),
    _conv(
        "terrified",
        "While hiking alone I came face to face with a bear on the trail.",
        "I was hiking alone on Saturday and came around a bend right into a black bear.",
        "Oh my goodness! What did you do?",
        "I remembered to stay calm, talk loudly and back away slowly. My heart was pounding so hard.",
        "You handled it perfectly. Did it follow you?",
        "It just watched me and then wandered off into the trees. I hiked back faster than I ever have.",
        "I don't blame you. Maybe bring a friend and some bear spray next time.",
    ),
    _conv(
        "trusting",
        "I gave my teenage daughter the car keys for her first drive alone to a friend's house.",
        "Tonight my sixteen-year-old drove to her friend's house by herself for the first time.",
        "That's a big step! How did it feel to hand over the keys?",
        "Nerve-racking, but she has been careful every time we've driven together. I have to let her grow up.",
        "It sounds like she has earned that trust. Did she text you when she got there?",
        "Within five minutes, with a thumbs up.",
    ),
)

ED_VALID: tuple[Conversation, ...] = (
    _conv(
        "grateful",
        "My coworkers covered all my shifts for two weeks while I looked after my mom after her surgery.",
        "I just got back to work after two weeks looking after my mom after her hip surgery. My team covered every one of my shifts.",
        "That's a great team. How is your mom recovering?",
        "She's already walking with a cane. I brought everyone donuts this morning, but it doesn't feel like enough.",
        "I'm sure they understand. Being there for each other is what makes a workplace feel human.",
    ),
    _conv(
        "angry",
        "The airline lost my luggage on the way to my brother's wedding, including the suit I was going to wear.",
        "The airline lost my bag on the way to my brother's wedding. My suit was in it.",
        "Oh no, when is the wedding?",
        "Tomorrow afternoon. They keep saying it will come on the next flight, which is what they said yesterday.",
        "That's so frustrating. Is there a rental shop nearby as a backup? Keep the receipt so the airline pays you back.",
        "Good idea. I'm going to find one tonight instead of waiting on them.",
    ),
    _conv(
        "surprised",
        "I found out that my quiet coworker performs stand-up comedy every weekend.",
        "I went to a comedy club on Friday and the headliner was Greg from accounting.",
        "Really? Was he any good?",
        "He was hilarious! He barely says two words at the office.",
        "People are full of surprises. Did you talk to him afterward?",
        "I did. He asked me not to tell anyone at work, so my lips are sealed.",
    ),
    _conv(
        "proud",
        "I finally paid off the last of my student loans after eight years.",
        "As of this morning I don't owe a cent in student loans. It took me eight years.",
        "Congratulations! That takes a lot of discipline.",
        "A lot of cheap dinners and no vacations. But seeing a zero balance feels amazing.",
        "You earned that feeling. Are you going to celebrate?",
        "I'm taking a weekend trip to the coast. My first real vacation in years.",
    ),
    _conv(
        "lonely",
        "Both of my kids left for college this fall and the house feels empty without them.",
        "Both of my kids started college this fall and the house is so quiet now.",
        "That's a big adjustment. Do you get to talk to them much?",
        "We text, but they're busy and happy, which is what I wanted. I just don't know what to do with my evenings.",
        "Maybe it's a chance to pick up something you put off while raising them. Is there anything you always wanted to try?",
        "I used to paint. Maybe I'll turn my son's room into a studio.",
    ),
    _conv(
        "nostalgic",
        "I drove past my old elementary school and saw it is being torn down to build apartments.",
        "I drove by my old elementary school today and there were bulldozers out front.",
        "Oh, that must have been strange to see. What are they building instead?",
        "Apartments. I spent six years in that building. I could still point to my second grade classroom.",
        "It's hard when the places from our childhood disappear. Are you still in touch with anyone from back then?",
        "One friend. I sent her a picture and she wrote back a whole paragraph of memories.",
    ),
    _conv(
        "excited",
        "We're adopting a puppy from the shelter this weekend and the kids can't stop talking about it.",
        "We're picking up our new puppy from the shelter on Saturday! She's a little beagle mix.",
        "How fun! Have you picked a name?",
        "The kids voted for Pickles. I was outvoted, but it's growing on me.",
        "Pickles is adorable. Get ready for chewed shoes and a lot of love.",
    ),
    _conv(
        "anxious",
        "I have to give a presentation to the whole company next week and public speaking makes me freeze.",
        "Next Thursday I have to present our quarterly results to the entire company. I'm dreading it.",
        "Is it the speaking itself that worries you, or the numbers?",
        "The speaking. Last time I lost my place and just stood there for what felt like a full minute.",
        "Practicing in front of a friend or two really helps. And keep short notes in your hand so you can find your place again.",
    ),
    _conv(
        "anticipating",
        "My partner and I close on our first house at the end of the month.",
        "We close on our first house on the thirtieth. I keep imagining where all the furniture will go.",
        "How exciting! What's the house like?",
        "It's small, but it has a big backyard and a window over the kitchen sink. I've always wanted that.",
        "That sounds perfect. I hope the closing goes smoothly.",
    ),
    _conv(
        "hopeful",
        "My dad started physical therapy after his stroke and he can already move his hand a little.",
        "My dad had a stroke in March, and this week he moved the fingers on his left hand for the first time.",
        "That's wonderful progress. How is he feeling about it?",
        "He's determined. His therapist said the first months matter most, so he does his exercises twice a day.",
        "With that attitude he's giving himself the best chance. Make sure you look after yourself too.",
        "I'm trying. My brother and I take turns visiting so neither of us burns out.",
    ),
    _conv(
        "disappointed",
        "I was counting on a raise this year, but the company froze all salaries.",
        "We found out today that salaries are frozen for the year. I was really counting on that raise.",
        "I'm sorry, that's really discouraging. Was it because of the company's finances?",
        "They said sales were down. I understand, but my rent just went up and I had plans for that money.",
        "That's a tough spot. Could you ask about other things in the meantime, like extra time off or paid training?",
    ),
    _conv(
        "sentimental",
        "I found the first note my wife ever passed me, back in high school chemistry class.",
        "While cleaning out my desk I found the note my wife passed me in chemistry class when we were sixteen.",
        "That's so sweet. What did it say?",
        "It asked if I wanted to be lab partners, with a tiny drawing of a beaker. We've been married twenty-two years.",
        "What a lovely find. Are you going to show her?",
        "I'm going to frame it for our anniversary next month.",
    ),
)

ED_TEST: tuple[Conversation, ...] = (
    _conv(
        "sad",
        "My favorite high school teacher passed away and I never told her how much she helped me.",
        "I found out my high school English teacher passed away last week. She's the reason I became a writer.",
        "I'm sorry for your loss. It sounds like she meant a lot to you.",
        "She did. I always meant to write and tell her, and now I can't.",
        "Maybe you could write to her family instead. Hearing what she meant to a student might bring them some comfort.",
        "That's a good idea. I think I will.",
    ),
    _conv(
        "joyful",
        "My best friend asked me to be the godmother of her baby boy.",
        "My best friend just asked me to be godmother to her son. I said yes before she finished the question.",
        "That's such an honor! You two must be close.",
        "We've been friends since we were six. I can't believe we're at the point of having babies.",
        "Life moves fast. He's lucky to have you in his corner.",
    ),
    _conv(
        "anticipating",
        "My nursing exam results come out tomorrow morning at nine.",
        "My nursing board exam results come out tomorrow at nine in the morning.",
        "Big day! How do you think you did?",
        "I felt good after the test, but now I keep second-guessing a few questions.",
        "That's normal. Whatever happens, you worked hard to get here. Any plans for after you find out?",
        "My roommates promised pancakes either way.",
    ),
    _conv(
        "afraid",
        "There was a small earthquake last night and I keep worrying that a bigger one will follow.",
        "We had a small earthquake last night. The pictures on my wall were shaking and I just froze.",
        "That must have been scary. Was there any damage?",
        "Just a broken mug. But I read that small ones sometimes come before big ones and I can't stop thinking about it.",
        "Putting together an emergency bag and securing heavy furniture can help. Having a plan makes the fear easier to manage.",
    ),
    _conv(
        "content",
        "My small balcony garden finally took off and now I have fresh herbs and tomatoes every day.",
        "This summer my balcony garden finally took off. I have basil, mint and more tomatoes than I can eat.",
        "That sounds so satisfying. Was it hard to get started?",
        "I killed a few plants at the beginning, but now watering them every morning is my favorite part of the day.",
        "There's something calming about it. Are you sharing the extra tomatoes?",
        "My neighbors get a bag every week whether they want it or not.",
    ),
    _conv(
        "surprised",
        "I won a photography contest that I had completely forgotten I entered.",
        "I got an email today saying I won first place in a photography contest. I forgot I even entered.",
        "Wow, congratulations! Which photo was it?",
        "A picture of my neighbor's cat sitting in a flower pot. I took it on my phone.",
        "Sometimes the simple shots are the best. Is there a prize?",
        "A new camera, and they're printing the photo in the local paper.",
    ),
    _conv(
        "embarrassed",
        "I accidentally sent a message complaining about my boss to my boss.",
        "I meant to text my friend that my boss's meeting was a waste of time. I sent it to my boss.",
        "Oh no! What did he say?",
        "He replied noted, with a smiley face. I have no idea how to read that.",
        "Maybe he took it well. It could be worth saying sorry and suggesting a way to make the meetings shorter.",
        "I apologized this morning. He actually agreed to cut them to thirty minutes.",
    ),
    _conv(
        "impressed",
        "My grandmother learned to swim at seventy and just finished a one-mile open water swim.",
        "My grandma learned to swim when she was seventy. Yesterday she finished a one-mile swim in the lake.",
        "That's amazing! How old is she now?",
        "Seventy-four. She trained three mornings a week at the community pool.",
        "What an inspiration. It really is never too late.",
        "She says her next goal is a relay with her grandkids, so I guess I'm in training now.",
    ),
    _conv(
        "nostalgic",
        "The smell of fresh bread from a bakery reminded me of Sunday mornings at my grandmother's house.",
        "I walked past a bakery this morning and the smell took me straight back to my grandmother's kitchen.",
        "Smells are powerful like that. Did she bake a lot?",
        "Every Sunday. She let me knead the dough and always gave me the first slice with butter.",
        "What a lovely memory. Do you have any of her recipes?",
        "I have her handwritten card for rye bread. Maybe it's time I tried it.",
    ),
    _conv(
        "guilty",
        "I told my son I'd be at his soccer game, but I stayed late at work and missed it.",
        "I promised my son I'd be at his soccer game today and I got stuck at work. He scored his first goal.",
        "Oh, that hurts. How did he take it?",
        "He said it was okay, but he went to his room right after dinner.",
        "Kids remember the effort to make it right. Ask him to tell you about the goal play by play, and put his next game in your calendar as something that can't move.",
    ),
    _conv(
        "confident",
        "I've rehearsed my best man speech for weeks and I know it's going to go well.",
        "My brother's wedding is on Saturday and I'm giving the best man speech. I think it's actually good.",
        "That's great! What's your secret?",
        "I wrote it a month ago and tried it out on my coworkers. Three minutes, two jokes and one story that makes people cry.",
        "Sounds like the perfect formula. Your brother is lucky.",
    ),
    _conv(
        "sentimental",
        "My son outgrew his crib, and taking it apart reminded me of bringing him home from the hospital.",
        "Today I took apart my son's crib. He's moving into a big boy bed.",
        "Oh, that's a bittersweet moment. How old is he?",
        "Almost three. I kept thinking about our first night home with him, when I couldn't stop checking on him.",
        "They grow up so quickly. Are you keeping the crib?",
        "It's going into the attic for now. I'm not ready to give it away.",
    ),
)

ED_SAMPLE: dict[str, tuple[Conversation, ...]] = {"train": ED_TRAIN, "valid": ED_VALID, "test": ED_TEST}

# conv ids, speaker ids and self-evaluations are bookkeeping fields; they are derived
# deterministically so that the conversations above stay readable.
_HIT_BASE = {"train": 1, "valid": 401, "test": 701}
_SELFEVALS = (
    "5|5|5_5|5|5", "4|5|5_5|4|5", "5|5|4_4|5|5", "5|4|5_5|5|4", "4|4|5_5|5|5",
    "5|5|5_4|4|4", "3|4|5_5|5|5", "5|5|5_5|4|5", "4|5|4_5|5|5",
)  # fmt: skip


def _escape(text: str) -> str:
    if "\n" in text or "\r" in text or '"' in text or "_comma_" in text:
        raise ValueError(f"sample text unfit for the unquoted EmpatheticDialogues layout: {text!r}")
    return text.replace(",", "_comma_")


def empathetic_rows(split: str) -> list[list[str]]:
    """The rows (header excluded) of one split, fields escaped and ready to join with plain commas."""
    rows: list[list[str]] = []
    for i, conv in enumerate(ED_SAMPLE[split]):
        if conv.emotion not in ED_EMOTIONS:
            raise ValueError(f"{split}[{i}]: unknown emotion {conv.emotion!r}")
        hit = _HIT_BASE[split] + 3 * i + i % 2
        conv_id = f"hit:{hit}_conv:{2 * hit + i % 2}"
        speaker = 1 + (7 * i + _HIT_BASE[split]) % 53
        listener = speaker + 1 + (5 * i) % 11
        selfeval = _SELFEVALS[(i + len(split)) % len(_SELFEVALS)]
        for j, utterance in enumerate(conv.utterances, start=1):
            rows.append(
                [
                    conv_id,
                    str(j),
                    conv.emotion,
                    _escape(conv.prompt),
                    str(speaker if j % 2 else listener),
                    _escape(utterance),
                    selfeval,
                    "",
                ]
            )
    return rows


def _empathetic_csv(split: str) -> str:
    lines = [ED_HEADER] + [",".join(row) for row in empathetic_rows(split)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# QMSum
# ---------------------------------------------------------------------------

_PM = "Project Manager"
_ME = "Marketing"
_ID = "Industrial Designer"
_UI = "User Interface"


@dataclass(frozen=True)
class Query:
    """A specific query; spans are (section, first turn, last turn) inside that section, -1 = its last turn."""

    query: str
    answer: str
    spans: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class Section:
    """One topic of a meeting and the consecutive turns that make it up."""

    topic: str
    turns: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Meeting:
    meeting_id: str
    domain: str
    split: str
    sections: tuple[Section, ...]
    summary: str
    specific: tuple[Query, ...]
    general_query: str = "Summarize the whole meeting."


def _sec(topic: str, *turns: tuple[str, str]) -> Section:
    return Section(topic, turns)


MEETINGS: tuple[Meeting, ...] = (
    # ----------------------------------------------------------------- Academic
    Meeting(
        "Bsm001",
        "Academic",
        "train",
        (
            _sec(
                "Transcription status of the new hallway recordings",
                ("Professor B", "OK, we're on. Um, so, agenda. Transcription status first, then the noise experiments, and then I want to leave ten minutes for the workshop paper."),
                ("Grad D", "Sounds good."),
                ("Professor B", "So, uh, where are we with the hallway recordings?"),
                ("PhD C", "We have eleven hours recorded. The transcribers have finished about six of them. Um, the rest should be done by the end of the month, but the overlapping speech is slowing them down a lot."),
                ("Professor B", "How much slower?"),
                ("PhD C", "For the normal parts they do one hour of audio in about eight hours of work. When three people talk at once it's more like {disfmarker} I don't know, twenty to one."),
                ("Grad D", "Could we give them the close-talking mic channels for those parts? It's much easier to hear who is saying what."),
                ("PhD C", "Yeah, that's what I was going to suggest. I'll, uh, I'll set up the split channels for them this week."),
                ("Professor B", "Good. And if it's really impossible, let's mark the overlap instead of transcribing every word. A tag is better than a guess."),
                ("PhD C", "OK, I'll add that to the guidelines."),
            ),
            _sec(
                "Results of the noise robustness experiments",
                ("Professor B", "Alright. Noise experiments. Tanya?"),
                ("PhD A", "So, um, I ran the baseline recognizer on the far-field mic with three kinds of noise added: the air conditioner, cafe babble and the printer. Clean speech is at twenty-one percent word error. With the air conditioner it goes to twenty-six, the printer thirty, and the babble is the worst, about thirty-eight."),
                ("Grad D", "Thirty-eight is a lot."),
                ("PhD A", "Yeah. Then I tried spectral subtraction as a front end. It helps with the stationary noise, so the air conditioner goes back down to twenty-three, but on babble it, uh, it barely moves. Maybe one point."),
                ("Professor B", "That's what I'd expect. Babble isn't stationary, so the noise estimate is always wrong."),
                ("PhD A", "Right. So the next thing I wanted to try is, um, training with the noisy data mixed in. Multi-condition training."),
                ("Professor B", "How long would that take on our machines?"),
                ("PhD A", "About four days for one full training run, if nobody else is using the cluster."),
                ("Grad D", "I {disfmarker} I have jobs on there until Wednesday, but I can pause them."),
                ("Professor B", "Let's do that. I'd rather see one clean multi-condition result than three half-finished things."),
                ("PhD C", "You should report the numbers per noise type too. Reviewers always ask for that."),
                ("PhD A", "Yeah, I'll keep them separate. I've got the table already."),
            ),
            _sec(
                "Planning the workshop paper and disk space",
                ("Professor B", "OK. The workshop deadline is, uh, the fifteenth. Do we have enough for a paper?"),
                ("PhD A", "If the multi-condition run finishes by the tenth, I think so. The story would be that simple front ends fix stationary noise, and for the rest you need data."),
                ("Professor B", "That's a reasonable four-page story. Lena, could you write the part about the corpus and the transcription effort?"),
                ("PhD C", "Sure. I can have a draft by Friday."),
                ("Grad D", "One thing, um, the shared disk is ninety-five percent full. If we're adding noisy copies of everything, we'll run out."),
                ("Professor B", "Hmm. Can we make the noisy versions on the fly instead of storing them?"),
                ("PhD A", "Probably. It would slow training down a bit, but not much."),
                ("Professor B", "Let's do that, and I'll ask the department for another disk anyway. OK, I think that's it. Thanks, everyone."),
            ),
        ),
        "The group first went over the transcription of the new hallway recordings, which was slowed down by overlapping speech; they decided to give the transcribers separate microphone channels and to tag overlaps that could not be transcribed. PhD A then presented noise experiments showing that spectral subtraction helped with stationary noise but not with babble, and the group agreed to try multi-condition training next. Finally, they planned a workshop paper for the fifteenth and decided to generate the noisy data on the fly because the shared disk was almost full.",
        (
            Query(
                "Summarize the discussion about the transcription of the hallway recordings.",
                "PhD C reported that eleven hours had been recorded and about six transcribed, and that overlapping speech was slowing the transcribers down badly. Grad D suggested giving the transcribers the close-talking channels for those parts, and PhD C agreed to set them up. Professor B added that overlaps that were impossible to transcribe should be tagged rather than guessed, which PhD C would add to the guidelines.",
                ((0, 2, -1),),
            ),
            Query(
                "What did Professor B think about the noise experiments?",
                "Professor B was not surprised that spectral subtraction failed on babble noise, because babble is not stationary and the noise estimate is always wrong. He supported trying multi-condition training, accepted Grad D's offer to pause his jobs on the cluster, and said he preferred one clean multi-condition result over several half-finished experiments.",
                ((1, 4, 9),),
            ),
        ),
    ),
    Meeting(
        "Bsm002",
        "Academic",
        "train",
        (
            _sec(
                "Results of the pilot study with museum visitors",
                ("Professor A", "Alright, let's get going. Nadia, you ran the pilot at the museum last week?"),
                ("Postdoc B", "Yeah. So we had the tablet guide in the fossil hall for two afternoons. Twenty-three visitors tried it, um, and eighteen of them finished the whole tour."),
                ("Professor A", "Eighteen out of twenty-three is not bad."),
                ("Postdoc B", "It's better than I expected. The main complaint was the speed. Older visitors said it talks too fast, and the kids said it talks too much."),
                ("Grad C", "{vocalsound} So everybody wants it to talk less, basically."),
                ("Postdoc B", "Pretty much. Also, uh, the speech recognition failed a lot next to the dinosaur skeleton, because of the echo in that room."),
                ("Professor A", "How often?"),
                ("Postdoc B", "About one in three questions there. Everywhere else it was fine."),
                ("Undergrad D", "We could put a push-to-talk button on the screen for that room. Then it's not listening to the whole hall."),
                ("Professor A", "That's cheap to try. Let's do it before the next session."),
            ),
            _sec(
                "Low agreement on the emotion annotation scheme",
                ("Professor A", "OK, the annotation. Sam, you said there's a problem?"),
                ("Grad C", "Yeah, um, Jonah and I both labeled the recordings for the visitors' emotions, and our agreement is really low. Kappa of point four."),
                ("Undergrad D", "Most of it is, uh, bored versus neutral. I think I labeled a lot of people bored who Sam called neutral."),
                ("Grad C", "It's hard to tell from audio alone. Someone speaking slowly might be bored, or they might just be thinking."),
                ("Postdoc B", "We have the video too. Could you label with the video on?"),
                ("Grad C", "We could, but then we're not measuring what the system can hear. The system only gets audio."),
                ("Professor A", "Hmm. That's a fair point. Maybe merge bored and neutral into one class for now and see if the agreement goes up."),
                ("Undergrad D", "That would probably fix most of it. The other classes, like confused or amused, we mostly agree on."),
                ("Grad C", "OK, I'll recompute it with the merged labels and {disfmarker} and send it round tomorrow."),
                ("Professor A", "And write the merge rule down in the guidelines, so we don't have the same argument again in three months."),
            ),
            _sec(
                "Recruiting more participants",
                ("Professor A", "Last thing. We need more people. Twenty-three is fine for a pilot, but not for the paper."),
                ("Postdoc B", "The museum said we can come back during the school holiday weeks. That's when they have the most visitors."),
                ("Undergrad D", "Um, but then it's mostly families with kids. Is that a problem?"),
                ("Professor A", "It could skew things. Can we also do a weekday morning? That's more retirees."),
                ("Postdoc B", "I'll ask. They were pretty relaxed about it."),
                ("Grad C", "We'd also need the consent forms in Spanish. A few families last time couldn't read the English one."),
                ("Professor A", "Good catch. Nadia, can you check with the ethics office whether a translation needs a new approval?"),
                ("Postdoc B", "Sure, I'll email them today."),
                ("Professor A", "OK, great. So: push-to-talk in the echo room, merged labels, and more sessions. Thanks, everyone."),
            ),
        ),
        "The group discussed a pilot study in which museum visitors used a tablet guide: most finished the tour, but visitors wanted the guide to say less, and recognition failed in an echoing room, so a push-to-talk button will be tried. They then addressed low agreement between annotators on emotion labels and decided to merge the bored and neutral classes. Lastly, they planned more recruiting sessions during school holidays and on weekday mornings, and a Spanish consent form.",
        (
            Query(
                "What did the group find in the pilot study at the museum?",
                "Postdoc B reported that eighteen of twenty-three visitors finished the tour with the tablet guide. Visitors complained that it spoke too fast or too much, and speech recognition failed on about one in three questions in the echoing fossil room. Undergrad D proposed a push-to-talk button for that room, which Professor A wanted to try before the next session.",
                ((0, 0, -1),),
            ),
            Query(
                "Why was agreement on the emotion annotation low, and what did the group decide?",
                "Grad C and Undergrad D reached a kappa of only 0.4, mostly because they disagreed on bored versus neutral, which are hard to tell apart from audio alone. Postdoc B suggested labeling with the video, but Grad C pointed out that the system only hears audio. Professor A proposed merging bored and neutral into one class, and Grad C agreed to recompute the agreement and write the merge rule into the guidelines.",
                ((1, 1, -1),),
            ),
        ),
    ),
    Meeting(
        "Bsm003",
        "Academic",
        "val",
        (
            _sec(
                "Data collection at the primary school",
                ("Professor C", "OK, um, is everyone here? Ellen's dialing in. Ellen, can you hear us?"),
                ("PhD D", "Yes, I can hear you fine."),
                ("Professor C", "Great. So, uh, first thing. How did the school visit go, Ravi?"),
                ("PhD A", "It went well. We recorded forty kids from second and third grade reading short stories aloud, about ten minutes each."),
                ("Professor C", "Any problems with the equipment?"),
                ("PhD A", "The headsets were too big for some of the younger kids, so they kept slipping. For maybe eight kids the audio is, uh, kind of muffled."),
                ("Grad B", "We should order the child-size ones. They're not expensive."),
                ("PhD A", "Yeah. And the teachers asked if we could send them a short report of what we found. Nothing technical, just, um, which kinds of words the kids struggled with."),
                ("Professor C", "That's a nice thing to do. And it keeps the school on our side for the next round."),
            ),
            _sec(
                "Recognition errors on children's speech",
                ("Professor C", "OK, the recognizer. Ellen?"),
                ("PhD D", "So I ran our adult model on the new recordings. Word error rate is forty-four percent. On adults reading the same stories it's twelve."),
                ("Grad B", "Wow."),
                ("PhD D", "Yeah. Part of it is pitch, the kids' voices are just higher, but a lot of it is, um, the reading itself. They restart words, they sound out letters, they skip lines."),
                ("Professor C", "Right, and for a tutor those aren't really recognizer errors. They're exactly what we want to detect."),
                ("PhD D", "Exactly. So I think we need to separate the two. Score the recognizer only on words that were read correctly, and treat the restarts as a separate detection problem."),
                ("PhD A", "Could vocal tract length normalization help with the pitch part?"),
                ("PhD D", "I tried it quickly. It brings forty-four down to thirty-seven."),
                ("Professor C", "That's a good start. And, uh, with forty kids of data we could also try adapting the model."),
                ("PhD D", "That's what I was going to try next. I just need the transcripts first."),
                ("Grad B", "I can transcribe. Um, I've done about six of them already."),
                ("Professor C", "Good. Mark the restarts and the sounding out with their own tags while you're at it. That's what Ellen needs for the detection part."),
            ),
            _sec(
                "Choosing a project for the summer intern",
                ("Professor C", "Last thing. We have money for a summer intern. Any ideas what they should work on?"),
                ("PhD A", "Maybe the teacher report? It's a self-contained project, and it would be useful."),
                ("Grad B", "Or a small game interface for the kids. The current screen is pretty boring. {vocalsound}"),
                ("Professor C", "Both are good. I'd lean toward the interface, since it helps the next recording round too."),
                ("PhD D", "Agreed. The kids stayed focused longer when the stories had pictures."),
                ("Professor C", "OK, I'll write the internship ad with the interface as the main project. Ravi, can you draft the teacher report yourself? Keep it to two pages."),
                ("PhD A", "Sure, I'll have it by next week."),
                ("Professor C", "Great, thanks. See you all Thursday."),
            ),
        ),
        "The group reviewed a recording session at a primary school, where forty children were recorded but some headsets were too big; they decided to buy child-size headsets and to send the teachers a short report. PhD D presented high error rates of the adult recognizer on children's speech, and the group chose to separate recognition from the detection of reading mistakes and to adapt the model once transcripts were ready. Finally, they agreed that the summer intern would build a more engaging interface for the children.",
        (
            Query(
                "Summarize the discussion about recognition errors on children's speech.",
                "PhD D reported that the adult recognizer had a 44 percent word error rate on children, against 12 percent on adults, because of both higher pitch and reading behaviour such as restarts and sounding out. The group agreed that reading mistakes should be treated as a separate detection problem. Vocal tract length normalization lowered the error to 37 percent, and Grad B offered to transcribe the recordings, with special tags for restarts, so that the model could be adapted.",
                ((1, 0, -1),),
            ),
            Query(
                "What did the group decide about the summer intern?",
                "Two projects were proposed: the report for the teachers and a game-like interface for the children. Professor C preferred the interface because it would also help the next recording round, and PhD D agreed since the children stayed focused longer with pictures. Professor C would write the internship ad, and PhD A would draft the two-page teacher report himself.",
                ((2, 0, 6),),
            ),
        ),
    ),
    Meeting(
        "Bsm004",
        "Academic",
        "test",
        (
            _sec(
                "New results of the laughter detector",
                ("Professor D", "Alright, I think we can start. Felix, you had new numbers on the laughter detector?"),
                ("PhD B", "Yes. Um, so on the held-out meetings it finds eighty-one percent of the laughs, with about one false alarm every two minutes."),
                ("Professor D", "What are the false alarms, mostly?"),
                ("PhD B", "Coughs, and uh, people breathing loudly into the mic. And squeaky chairs, weirdly."),
                ("Grad A", "{vocalsound} The chairs in room two are terrible."),
                ("PhD B", "They really are. If I leave out the channel of the person at the end of the table, half of the false alarms go away."),
                ("Postdoc C", "Does it find short laughs too, or mostly the long ones?"),
                ("PhD B", "Mostly long ones. Short single chuckles it misses about half the time."),
                ("Professor D", "Hmm. For the meeting analysis the short ones are, um, probably the more interesting ones. They tell you about the mood."),
                ("PhD B", "OK, I can weight the short ones more in training and see what happens."),
            ),
            _sec(
                "Labelling guidelines for laughter",
                ("Professor D", "Which brings us to labels. June, how are the guidelines going?"),
                ("Grad A", "So, the question is where a laugh starts and ends. Some people start laughing in the middle of a word, uh, and keep talking while they laugh."),
                ("Postdoc C", "Speech-laughs. We had the same issue in the old corpus."),
                ("Grad A", "Right. So I'm proposing three labels: laugh, speech-laugh and, um, a separate one for breathy sounds that might be laughter but we're not sure."),
                ("Professor D", "I like having an uncertain label. Better than forcing people to decide."),
                ("PhD B", "For training I'd probably just throw the uncertain ones out, though."),
                ("Grad A", "That's fine, as long as they're marked. I tried the guidelines with two labelers on one meeting and they agreed on about eighty-five percent of the laughs."),
                ("Postdoc C", "That's already quite good for a first try."),
                ("Professor D", "Let's freeze this version then, and label the next ten meetings with it."),
            ),
            _sec(
                "Preparing the demo for the sponsor visit",
                ("Professor D", "OK, the sponsors are visiting on the twenty-second and they want to see a demo."),
                ("Postdoc C", "What do we show? The live detector?"),
                ("Professor D", "Live is risky. Uh, I'd play a recorded meeting with the laughs highlighted on a timeline. Then a bad mic can't surprise us."),
                ("PhD B", "I can make the timeline. It's mostly a plotting script."),
                ("Grad A", "Could we add who is speaking too? It's more fun to see who laughs after whom."),
                ("Professor D", "Good idea. People always like that."),
                ("Postdoc C", "I'll pick a meeting where we have permission to play the audio. Not all of them allow it."),
                ("PhD B", "Um, should we show the error rates too? Or just the pretty part?"),
                ("Professor D", "Show them. They're funding research, they should see where it fails. OK, that's all for today."),
            ),
        ),
        "PhD B presented new results for the laughter detector, which missed many short laughs and mistook coughs and squeaky chairs for laughter; Professor D asked for more weight on short laughs because they reveal the mood of a meeting. Grad A proposed labelling guidelines with separate labels for laughs, speech-laughs and uncertain sounds, and the group agreed to freeze them. Finally, they planned a recorded demo with a laughter timeline for the sponsor visit.",
        (
            Query(
                "What did Professor D think about detecting short laughs?",
                "When PhD B said the detector missed about half of the short, single chuckles, Professor D argued that short laughs were probably the more interesting ones for meeting analysis, because they tell you about the mood. PhD B then agreed to give short laughs more weight in training.",
                ((0, 6, 9),),
            ),
            Query(
                "Summarize the discussion about the sponsor demo.",
                "The sponsors were visiting on the twenty-second. Professor D preferred playing a recorded meeting with the laughs highlighted on a timeline to a risky live demo. PhD B would make the timeline, Grad A suggested showing who was speaking, and Postdoc C would choose a meeting whose audio they had permission to play. Professor D also wanted the error rates shown so that the sponsors could see where the system fails.",
                ((2, 0, -1),),
            ),
        ),
    ),
    # ---------------------------------------------------------------- Committee
    Meeting(
        "library_1",
        "Committee",
        "train",
        (
            _sec(
                "Opening of the meeting and declarations of interest",
                ("The Chair (Cllr. Margaret Osei)", "Good evening, everyone, and welcome to this meeting of the Communities Scrutiny Committee. We have one substantive item tonight, which is our review of library services. We've received apologies from Councillor Abbott. Are there any declarations of interest?"),
                ("Cllr. Daniel Reyes", "Chair, I should declare that my wife volunteers at Eastfield Library on Saturdays."),
                ("The Chair", "Thank you, that's noted. Anyone else? No. Then I'd like to welcome our witnesses, Helen Park, Head of Library Services, and Owen Hughes from the Friends of Eastfield Library. Thank you both for coming."),
                ("Ms. Helen Park (Head of Library Services)", "Thank you, Chair. We're happy to be here."),
                ("Mr. Owen Hughes (Chair, Friends of Eastfield Library)", "Thank you for having us."),
            ),
            _sec(
                "Evidence on reduced library opening hours",
                ("The Chair", "Ms. Park, perhaps you could start by explaining the change to opening hours that came into effect in April."),
                ("Ms. Helen Park", "Of course. To meet the savings target, we reduced opening hours at our six branch libraries from forty-two hours a week to thirty. The central library was not affected. We cut the hours with the lowest visitor numbers, which were mostly early mornings and Monday afternoons."),
                ("Cllr. Priya Natarajan", "Thank you. What has happened to visitor numbers since April?"),
                ("Ms. Helen Park", "Overall visits to the branches are down about eleven per cent on last year. Book loans are down less, around four per cent, which suggests many people are coming at different times rather than staying away."),
                ("Cllr. Priya Natarajan", "Eleven per cent is not small. Do you know who we've lost?"),
                ("Ms. Helen Park", "We think it's mainly older residents who used to come in on weekday mornings to read the newspapers, and parents with young children who came to the Monday rhyme-time sessions, which we've had to move."),
                ("The Chair", "Mr. Hughes, is that consistent with what your members have seen at Eastfield?"),
                ("Mr. Owen Hughes", "It is, Chair. I'd add that for some of our older visitors the library is the only place they talk to anyone all day. When the doors don't open until eleven, they don't simply come later; some of them stop coming. We've had letters from people saying exactly that."),
                ("Cllr. Daniel Reyes", "Has the service considered opening earlier with volunteers on the desk, as some other councils have done?"),
                ("Ms. Helen Park", "We have looked at it. Volunteers can help, and we're grateful to the Friends groups, but they can't handle some tasks, such as safeguarding concerns or cash, so we'd still need one member of staff on site. We're costing a pilot at two branches."),
                ("Cllr. Daniel Reyes", "When will the committee see that costing?"),
                ("Ms. Helen Park", "We expect to bring it to the September meeting."),
                ("The Chair", "Thank you. I'd like the September report to include the visitor figures broken down by age as well, if that's possible."),
                ("Ms. Helen Park", "We can do that from the library card data, yes."),
            ),
            _sec(
                "E-book lending and digital inclusion",
                ("The Chair", "Let's move on to digital services. Councillor Natarajan."),
                ("Cllr. Priya Natarajan", "Thank you, Chair. Ms. Park, e-book lending has grown a great deal. Is the service able to keep up with demand?"),
                ("Ms. Helen Park", "Demand has roughly doubled in two years. The difficulty is cost: publishers charge libraries much more for an e-book licence than for a printed copy, and many licences expire after two years or a set number of loans. So popular titles have long waiting lists."),
                ("Cllr. Priya Natarajan", "How long are we talking about?"),
                ("Ms. Helen Park", "For a new bestseller, twelve to sixteen weeks is not unusual."),
                ("Mr. Owen Hughes", "If I may, Chair, our members are also concerned that as more moves online, people without a device, or without the confidence to use one, are left behind. The free computer sessions at Eastfield are always full."),
                ("Ms. Helen Park", "That's a fair point. We're bidding for funding to lend tablets with data included, and to run more digital help sessions with the adult learning team."),
                ("Cllr. Daniel Reyes", "I'd support that. Could the committee write to the cabinet member in support of the bid?"),
                ("The Chair", "I think that would be sensible. Are members content? Thank you. We'll write to the cabinet member supporting the tablet lending bid, and we'll look at the pilot costing in September. Can I thank both of our witnesses for their time this evening. The meeting is closed."),
            ),
        ),
        "This meeting of the Communities Scrutiny Committee reviewed library services with the Head of Library Services and a representative of the Friends of Eastfield Library. Members first discussed the cut in branch opening hours, which had led to fewer visits, especially by older residents and parents of young children; a pilot that uses volunteers to open earlier will be costed for September. The committee then discussed the rising demand for and high cost of e-book lending and the risk of digital exclusion, and agreed to write to the cabinet member supporting a bid to lend tablets.",
        (
            Query(
                "Summarize the discussion about the reduced library opening hours.",
                "Ms. Helen Park explained that branch opening hours had been cut from forty-two to thirty hours a week to meet the savings target, and that visits had fallen by eleven per cent while loans had fallen by four per cent. She believed the service had mainly lost older residents and parents of young children. Mr. Owen Hughes added that some older visitors had stopped coming altogether, although the library was their main social contact. The service was costing a pilot with volunteers and one member of staff to open earlier, to be reported in September together with visitor figures by age.",
                ((1, 0, -1),),
            ),
            Query(
                "What did Mr. Owen Hughes say about digital services?",
                "Mr. Owen Hughes warned that as more services moved online, people without a device or the confidence to use one would be left behind, and noted that the free computer sessions at Eastfield were always full. Ms. Helen Park agreed and mentioned a funding bid to lend tablets with data and to run more digital help sessions.",
                ((2, 5, 6),),
            ),
        ),
    ),
    Meeting(
        "transport_1",
        "Committee",
        "train",
        (
            _sec(
                "Replacing rural bus routes with a bookable service",
                ("The Chair (Cllr. Alan Whitfield)", "Good morning and welcome to the Transport and Environment Committee. Today we're taking evidence on the bus network review. With us are Rob Delaney, Director of Transport, and Aisha Rahman from the Rural Communities Forum. Mr. Delaney, would you like to begin with the route changes?"),
                ("Mr. Rob Delaney (Director of Transport)", "Thank you, Chair. The review proposes changes to fourteen routes. Nine of them are rural, and there we plan to replace the fixed timetable with a bookable minibus. You book a trip by phone or app up to an hour ahead, and the bus picks you up anywhere within a set zone."),
                ("Cllr. Sarah Kowalski", "How many people currently use those nine routes?"),
                ("Mr. Rob Delaney", "Together, about six hundred passenger journeys a day. Outside school times some of those buses run almost empty, which is the main reason for the change."),
                ("Ms. Aisha Rahman (Rural Communities Forum)", "Chair, may I come in? Our concern is that a service you have to book an hour ahead doesn't suit someone with a hospital appointment or a shift that changes at short notice. And a lot of older people in the villages don't use apps."),
                ("Mr. Rob Delaney", "That's why phone booking will stay, and there will be a standing booking for regular trips, so someone who travels to work at the same time every day only books once."),
                ("Cllr. James Mensah", "What happens if the minibus is full?"),
                ("Mr. Rob Delaney", "The system offers the nearest available time. In trials elsewhere, about ninety per cent of requests were met within fifteen minutes of the time asked for."),
                ("Ms. Aisha Rahman", "Ninety per cent sounds good, but for the other ten per cent it may mean missing a medical appointment. We would ask for the change to be trialled on two routes before it is rolled out everywhere."),
                ("The Chair", "That seems a reasonable request. Mr. Delaney, would the department consider a phased approach?"),
                ("Mr. Rob Delaney", "We would. A six-month trial on two routes is something we could accommodate within the budget."),
            ),
            _sec(
                "Removal of the Millbrook school bus",
                ("The Chair", "Let's turn to school transport. Councillor Mensah."),
                ("Cllr. James Mensah", "Thank you, Chair. Several parents in my ward have contacted me because the school bus from Millbrook was withdrawn and their children now walk along a road with no pavement. Was a safety assessment done?"),
                ("Mr. Rob Delaney", "An assessment was done last year, and the route was judged suitable for walking. However, I'm aware of the concerns, and since that assessment the speed limit on part of the road has been raised. I've asked officers to look at it again."),
                ("Cllr. James Mensah", "When will that be finished? The evenings are getting dark."),
                ("Mr. Rob Delaney", "Before the end of October. In the meantime we've arranged a school crossing patrol at the junction by the garage."),
                ("Cllr. Sarah Kowalski", "Will the reassessment be shared with parents?"),
                ("Mr. Rob Delaney", "Yes. We'll publish it and write to every family on the route."),
                ("The Chair", "Thank you. The committee would like to see it as well."),
            ),
            _sec(
                "Funding the proposed fare cap",
                ("The Chair", "Finally, the fare cap. Councillor Kowalski."),
                ("Cllr. Sarah Kowalski", "The proposal is a cap of two pounds on a single journey anywhere in the county. Who pays the difference?"),
                ("Mr. Rob Delaney", "For the first year it's funded by a national grant. After that, the council would need to find around one point two million pounds a year, unless the grant is extended."),
                ("Cllr. Sarah Kowalski", "So we could be introducing something popular that we can't afford to keep?"),
                ("Mr. Rob Delaney", "That is the risk. Our hope is that more passengers will cover part of the cost. Where other areas introduced a cap, passenger numbers went up by between ten and fifteen per cent."),
                ("Ms. Aisha Rahman", "For rural residents the cap would make a real difference. Some of our members pay over six pounds for a single journey into town."),
                ("Cllr. James Mensah", "I'd ask that the report back to us covers what happens in year two if the grant ends, so that we're not caught by surprise."),
                ("The Chair", "Agreed. To summarise, the committee asks for a six-month trial of the bookable service on two routes, for the Millbrook reassessment to be shared with us, and for a costed plan for the fare cap beyond the first year. Thank you all."),
            ),
        ),
        "The Transport and Environment Committee took evidence on the bus network review from the Director of Transport and the Rural Communities Forum. Members discussed replacing nine rural routes with a bookable minibus service, and the committee asked for a six-month trial on two routes first. They then discussed the withdrawal of the Millbrook school bus, whose walking route will be reassessed by the end of October. Finally, they discussed a two-pound fare cap and asked for a plan to fund it after the first year.",
        (
            Query(
                "What were the concerns about replacing rural bus routes with a bookable service?",
                "Ms. Aisha Rahman worried that booking an hour ahead would not suit people with hospital appointments or changing shifts, and that many older villagers did not use apps. Mr. Rob Delaney replied that phone booking and standing bookings for regular trips would remain, and that in trials ninety per cent of requests were met within fifteen minutes. Because the rest could still miss appointments, Ms. Rahman asked for a trial on two routes, which the department agreed to run for six months.",
                ((0, 4, -1),),
            ),
            Query(
                "Summarize the discussion about the fare cap.",
                "Cllr. Sarah Kowalski asked who would pay for the proposed two-pound cap on single journeys. Mr. Rob Delaney said a national grant covered the first year, after which the council would need about 1.2 million pounds a year unless more passengers covered part of the cost. Ms. Aisha Rahman said the cap would help rural residents who paid over six pounds a journey, and the committee asked for a costed plan for the years after the grant.",
                ((2, 0, -1),),
            ),
        ),
    ),
    Meeting(
        "housing_1",
        "Committee",
        "val",
        (
            _sec(
                "Scale of damp and mould in council homes",
                ("The Chair (Cllr. Fiona Grant)", "Welcome, everyone, to this meeting of the Housing Committee. Today's item is damp and mould in council homes. We're joined by Colin Baptiste, Head of Housing Repairs, and Joy Adeyemi from the Tenants' Panel. Mr. Baptiste, could you give us a picture of the scale of the problem?"),
                ("Mr. Colin Baptiste (Head of Housing Repairs)", "Thank you, Chair. Over the last twelve months we received just over two thousand reports of damp or mould, across around eighteen thousand homes. That's nearly double the year before. Part of the increase is because we've encouraged tenants to report it, but part of it reflects the age of the housing stock."),
                ("Cllr. Tom Achebe", "Which properties are most affected?"),
                ("Mr. Colin Baptiste", "Mostly the low-rise blocks built in the sixties, with solid walls and no cavity insulation. About half of all reports come from three estates."),
                ("Ms. Joy Adeyemi (Tenants' Panel)", "Chair, I live on one of those estates. I'd like the committee to understand that this isn't about tenants drying clothes indoors, which is what people are sometimes told. Families are keeping their windows open in January and the walls are still black."),
                ("The Chair", "Thank you, Ms. Adeyemi. I think that's an important point. Mr. Baptiste, is the advice given to tenants being reviewed?"),
                ("Mr. Colin Baptiste", "It is. We've withdrawn the old leaflet, which I accept put too much emphasis on tenants' behaviour. Our new approach treats every report as a possible building defect first."),
            ),
            _sec(
                "Repair waiting times and the retrofit programme",
                ("The Chair", "Let's talk about how long repairs take. Councillor Lindqvist."),
                ("Cllr. Rachel Lindqvist", "Thank you. Mr. Baptiste, what is the average time from a report to the work being completed?"),
                ("Mr. Colin Baptiste", "An inspection currently takes nine working days. For the repair itself the average is fifty-three days, but that hides a wide range. Treating mould and repainting can be done in a week; fixing a roof or installing ventilation can take months."),
                ("Cllr. Rachel Lindqvist", "Fifty-three days is a long time for a family whose child has asthma."),
                ("Mr. Colin Baptiste", "I agree. Since June, any household with a young child or someone with a respiratory condition is treated as a priority, with an inspection within two days and a temporary fix within a week."),
                ("Ms. Joy Adeyemi", "That has helped, I'll say that. But the temporary fix is often just a mould wash and a coat of paint, and two months later it's back."),
                ("Cllr. Tom Achebe", "Is there a budget to deal with the causes, such as insulation, rather than the symptoms?"),
                ("Mr. Colin Baptiste", "There's a retrofit programme of four million pounds over three years, starting with the three estates I mentioned. It won't reach every home, but it covers the worst affected."),
                ("Cllr. Rachel Lindqvist", "I'd like the committee to receive progress figures on that programme every quarter."),
                ("The Chair", "Agreed."),
            ),
            _sec(
                "Communication with tenants",
                ("The Chair", "Finally, communication. Ms. Adeyemi, what do tenants tell the panel?"),
                ("Ms. Joy Adeyemi", "The biggest complaint is not knowing what's happening. People report mould, someone comes to look, and then they hear nothing for weeks. They ring the call centre and get a different answer every time."),
                ("Mr. Colin Baptiste", "That's fair. We're introducing a single named officer for each damp case, and text updates at each stage: inspection booked, work ordered, work completed."),
                ("Cllr. Tom Achebe", "When will that be in place?"),
                ("Mr. Colin Baptiste", "The text updates start next month. The named officers will take a little longer, because we're still recruiting to two posts."),
                ("Ms. Joy Adeyemi", "The panel would be happy to test the messages before they go out. Sometimes the council's wording is, well, hard to follow."),
                ("Mr. Colin Baptiste", "We'd welcome that. I'll arrange it with you."),
                ("The Chair", "Thank you both. To summarise: the committee welcomes the new priority approach, asks for quarterly updates on the retrofit programme, and supports the Tenants' Panel reviewing the new messages. Thank you for your evidence today."),
            ),
        ),
        "The Housing Committee examined damp and mould in council homes with the Head of Housing Repairs and a member of the Tenants' Panel. Reports had nearly doubled and were concentrated on three estates built in the sixties, and the old advice that blamed tenants' behaviour had been withdrawn. Members discussed long repair times, the new priority for vulnerable households and a retrofit programme, and asked for quarterly updates. Finally, they discussed poor communication with tenants; the service promised named officers and text updates, which the Tenants' Panel offered to test.",
        (
            Query(
                "Summarize the discussion about repair waiting times.",
                "Mr. Colin Baptiste said inspections took nine working days and repairs fifty-three days on average, with large differences between simple treatments and structural work. Since June, households with young children or respiratory conditions had been given priority. Ms. Joy Adeyemi noted that temporary fixes often failed within two months, and when Cllr. Tom Achebe asked about tackling the causes, Mr. Baptiste described a four million pound retrofit programme starting with the worst estates. The committee agreed to receive quarterly progress figures.",
                ((1, 0, -1),),
            ),
            Query(
                "What did Ms. Joy Adeyemi say about how tenants were treated?",
                "Ms. Joy Adeyemi said tenants were wrongly told that mould came from drying clothes indoors, while families on her estate kept their windows open in winter and the walls were still black. She also said the biggest complaint was not knowing what was happening after reporting mould, and getting a different answer every time they called.",
                ((0, 4, 4), (2, 1, 1)),
            ),
        ),
    ),
    Meeting(
        "parks_1",
        "Committee",
        "test",
        (
            _sec(
                "Parks maintenance budget and wildflower meadows",
                ("The Chair (Cllr. Bernard Lyle)", "Good evening and welcome to the Environment Scrutiny Committee. Tonight we are looking at the maintenance of parks and open spaces. I welcome Laura Fenwick, Parks and Open Spaces Manager, and Sunil Varma from the Riverside Park Volunteers. Ms. Fenwick, would you start with the budget position?"),
                ("Ms. Laura Fenwick (Parks and Open Spaces Manager)", "Thank you, Chair. The parks maintenance budget this year is two point one million pounds, which in real terms is about a quarter lower than five years ago. Over the same period we've taken on three new green spaces from housing developments, so we're maintaining more land with less money."),
                ("Cllr. Mei Tanaka", "Where have the savings come from?"),
                ("Ms. Laura Fenwick", "Mainly from mowing some areas less often and leaving them as wildflower meadows, from not replacing staff who retired, and from stopping the bedding plant displays except in the two main parks."),
                ("Cllr. Kevin O'Driscoll", "I have to say I've had complaints about the long grass. Some residents see it as neglect."),
                ("Ms. Laura Fenwick", "We hear that too. Where we've left meadows, we now mow a clear edge and a path through them, and we've put up signs explaining why. Complaints have dropped since we started doing that."),
                ("Cllr. Mei Tanaka", "And the benefit for wildlife is real. I'd be concerned if the meadows were reversed because of a few complaints."),
            ),
            _sec(
                "The role of volunteer groups",
                ("The Chair", "Let's move on to volunteers. Mr. Varma, tell us about your group."),
                ("Mr. Sunil Varma (Riverside Park Volunteers)", "Thank you, Chair. We have about forty regular volunteers who meet every Saturday morning. We pick litter, clear the riverbank, plant bulbs, and we've rebuilt the path by the pond with materials the council provided."),
                ("The Chair", "That's impressive. What support do you get from the council?"),
                ("Mr. Sunil Varma", "Tools, gloves, insurance, and a ranger who joins us once a month. That ranger matters a great deal. When the post was vacant last year we lost about a third of our volunteers, because nobody knew which jobs were allowed."),
                ("Cllr. Kevin O'Driscoll", "Ms. Fenwick, is there a risk that the council comes to rely on volunteers for work that staff used to do?"),
                ("Ms. Laura Fenwick", "It's something we're careful about. Volunteers add to what we do; they don't replace core maintenance such as tree safety work or cutting the sports pitches. We have an agreement with the unions that sets that out."),
                ("Mr. Sunil Varma", "And for us it's important that it stays that way. People volunteer because they love the park, not to fill a gap in the budget."),
                ("Cllr. Mei Tanaka", "Could other parks have groups like yours?"),
                ("Mr. Sunil Varma", "I think so. We'd be glad to share how we started: the risk assessments, the rota, all of it."),
                ("Ms. Laura Fenwick", "We'd like to write a starter pack based on Riverside, if Mr. Varma's group is willing."),
            ),
            _sec(
                "Playground safety inspections after the Hill Road accident",
                ("The Chair", "Finally, playgrounds. Councillor O'Driscoll."),
                ("Cllr. Kevin O'Driscoll", "Thank you, Chair. After the accident at the Hill Road playground in the spring, what has changed in how playgrounds are inspected?"),
                ("Ms. Laura Fenwick", "Every playground has a visual check each week, a full operational inspection every quarter and an independent annual inspection. After the Hill Road incident, where a swing chain failed, we brought the annual inspections forward and replaced the chains at eleven sites."),
                ("Cllr. Kevin O'Driscoll", "Had that chain been flagged in an earlier inspection?"),
                ("Ms. Laura Fenwick", "The annual report had noted wear and recommended replacement within six months. That work had not been done when the chain broke. I want to be clear that this should not have happened, and we've changed the system so that any high-risk item goes straight to the top of the work list with a deadline."),
                ("Cllr. Mei Tanaka", "Is the child who was hurt recovering?"),
                ("Ms. Laura Fenwick", "Yes. It was a broken arm, and the family has been kept informed throughout."),
                ("The Chair", "Thank you for being frank about that. The committee will want assurance that the new system is working. Could you report back in six months with inspection completion rates?"),
                ("Ms. Laura Fenwick", "Certainly."),
                ("The Chair", "Then, to conclude, we thank Mr. Varma and the Riverside volunteers for their work, we support the volunteer starter pack, and we'll receive the playground inspection report in six months. Thank you all."),
            ),
        ),
        "The Environment Scrutiny Committee looked at the maintenance of parks and open spaces. Ms. Laura Fenwick explained that the budget had fallen by a quarter in real terms while the council maintained more land, and that some areas were now left as wildflower meadows. Mr. Sunil Varma described the work of the Riverside Park Volunteers, and the committee supported a starter pack for new volunteer groups. Finally, members discussed the playground accident at Hill Road and asked for a report on inspections in six months.",
        (
            Query(
                "Summarize the discussion about volunteer groups in parks.",
                "Mr. Sunil Varma described the Riverside Park Volunteers, about forty people who pick litter, clear the riverbank and rebuilt a path, supported with tools, insurance and a monthly visit from a ranger. He said they lost a third of their volunteers while the ranger post was vacant. Cllr. Kevin O'Driscoll asked whether volunteers were replacing staff, and Ms. Laura Fenwick explained that an agreement with the unions kept core maintenance with staff. They agreed to write a starter pack so that other parks could set up similar groups.",
                ((1, 0, -1),),
            ),
            Query(
                "What did Ms. Laura Fenwick say about the accident at the Hill Road playground?",
                "Ms. Laura Fenwick explained that a swing chain had failed after the annual inspection had noted wear and recommended replacement, and the work had not been done. She said this should not have happened, that chains had since been replaced at eleven sites, and that high-risk items now go straight to the top of the work list with a deadline. The injured child, who had broken an arm, was recovering.",
                ((2, 2, 6),),
            ),
        ),
    ),
    # ------------------------------------------------------------------ Product
    Meeting(
        "SM1001a",
        "Product",
        "train",
        (
            _sec(
                "Introductions and the project brief",
                (_PM, "Okay, um, good morning everyone. This is the kick-off meeting for our new product. {vocalsound} So first, um, let's just go round and introduce ourselves. I'm Clara, I'm the project manager."),
                (_ME, "I'm Victor, I'm doing marketing."),
                (_ID, "Ben, industrial designer."),
                (_UI, "And I'm Sofia, user interface."),
                (_PM, "Great. So, the brief. We're designing a new alarm clock for the bedroom. Um, it should be something people actually want on their bedside table, not just, you know, a stand for their phone."),
                (_ME, "So it's competing with the phone, basically."),
                (_PM, "Basically, yeah. Most people use their phone as an alarm now, so we have to give them a reason not to."),
                (_UI, "Mm-hmm."),
            ),
            _sec(
                "What annoys people about alarm clocks, and the sunrise light idea",
                (_PM, "So, uh, just to warm up. What annoys you about alarm clocks? Or phone alarms?"),
                (_UI, "The snooze button. It's so easy to press that I press it five times. {vocalsound}"),
                (_ID, "For me it's the light. Most clocks have this bright blue display that lights up the whole room."),
                (_ME, "And when you use the phone, you check one message and then it's, uh, forty minutes later and you're still in bed scrolling."),
                (_PM, "Right. So that's actually a selling point. A clock that keeps the phone out of the bedroom."),
                (_UI, "Could it wake you up with light instead of sound? Like a sunrise, getting brighter over twenty minutes?"),
                (_ID, "That's possible. There are, um, LED panels that do warm colours quite cheaply now."),
                (_ME, "People who share a bed would like that. Only one of you has to get up at six."),
                (_UI, "Yeah, my partner would love that. {vocalsound}"),
                (_ID, "Though {disfmarker} if it's a sunrise light, it has to be bigger than a normal clock. So it changes the shape quite a lot."),
                (_PM, "Okay, let's keep that open for now. Ben, can you look at how big it would need to be?"),
                (_ID, "Sure."),
            ),
            _sec(
                "Budget, selling price and tasks for the next meeting",
                (_PM, "Um, so, the numbers. We've been told the selling price should be around forty euros, and the production cost can't be more than fifteen."),
                (_ME, "Forty is okay for the market. Sunrise lamps from the big brands are more like eighty, so we'd be, uh, the cheap option with a good design."),
                (_ID, "Fifteen is tight with a light panel, but I'll check."),
                (_PM, "Good. So for next time. Victor, can you find out what our target group wants? Maybe a small survey."),
                (_ME, "Yeah, I can do a quick online survey this week."),
                (_PM, "Sofia, think about the controls. How do you set the alarm without, um, a hundred buttons?"),
                (_UI, "Okay. Maybe just a dial and one button."),
                (_PM, "And Ben, the size and the light. Okay. I think that's it. We meet again in, uh, half an hour. Thanks everyone."),
                (_ME, "Thanks."),
            ),
        ),
        "This was the kick-off meeting for a new bedroom alarm clock meant to compete with phone alarms. After introductions, the team discussed what annoyed them about alarms, including the snooze button, bright displays and scrolling on the phone, and came up with the idea of waking people with a sunrise light. Project Manager then gave the target selling price of forty euros and a production cost of at most fifteen, and handed out tasks: a survey for Marketing, the controls for User Interface, and the size and light for Industrial Designer.",
        (
            Query(
                "What did the group say annoyed them about alarm clocks?",
                "User Interface found the snooze button so easy to press that she pressed it again and again, Industrial Designer disliked bright displays that light up the bedroom, and Marketing said phone alarms led people to keep scrolling in bed. Project Manager saw keeping the phone out of the bedroom as a selling point.",
                ((1, 0, 4),),
            ),
            Query(
                "Summarize the discussion about the price and production cost.",
                "Project Manager said the selling price should be about forty euros with a production cost of at most fifteen. Marketing thought forty euros would make the clock a cheaper, well-designed alternative to branded sunrise lamps at about eighty, while Industrial Designer warned that fifteen euros would be tight with a light panel.",
                ((2, 0, 2),),
            ),
        ),
        "Summarize the meeting.",
    ),
    Meeting(
        "SM1001b",
        "Product",
        "train",
        (
            _sec(
                "Survey results from the target group",
                (_PM, "Okay, everyone's here. Um, this is the functional design meeting. Victor, do you want to start with the survey?"),
                (_ME, "Sure. So I got, um, sixty-two answers, mostly people between twenty-five and forty. Seventy percent use their phone as an alarm."),
                (_PM, "That's a lot."),
                (_ME, "Yeah. But half of them said they'd like to keep the phone out of the bedroom, they just don't have a good reason to. And, uh, the thing people hated most was a loud, sudden alarm sound."),
                (_UI, "So the sunrise idea fits."),
                (_ME, "It fits really well. Forty percent said they'd pay more for a gentle wake-up. Oh, and a lot of people wanted it to look like furniture. Wood or fabric, not plastic."),
                (_ID, "Wood's expensive though. {vocalsound}"),
                (_PM, "Let's come back to materials. Ben?"),
            ),
            _sec(
                "Technical options for the light and sound",
                (_ID, "Okay, so the light. Um, for a sunrise effect you need around two hundred lumens at the brightest, and it has to go from a very dim red to a warm white. An LED ring can do that."),
                (_PM, "A ring?"),
                (_ID, "Yeah, a ring around the clock face. It's cheaper than a full panel and it keeps the clock small. About four euros for the LEDs and the driver."),
                (_UI, "Does it still look like a sunrise?"),
                (_ID, "If you point it at the wall, yeah. The wall sort of becomes the lamp."),
                (_ME, "I like that. It's a nice story for the advert."),
                (_ID, "For sound, I'd use a small speaker with some nature sounds as a backup, in case the light isn't enough. And uh, a coin cell so the clock keeps the time in a power cut."),
                (_PM, "So, no radio?"),
                (_ID, "A radio adds about two euros and another antenna. I'd skip it."),
                (_ME, "Only eight percent in the survey listen to the radio in the morning, so {disfmarker} yeah, skip it."),
            ),
            _sec(
                "Controls and agreement on the main functions",
                (_PM, "Okay. Sofia, controls."),
                (_UI, "So, I think one big dial on top. You turn it to set the alarm time and press it to switch the alarm on or off. And um, snooze is when you tap the top of the clock, anywhere."),
                (_ID, "A tap sensor is cheap. It's basically a small vibration sensor."),
                (_UI, "But snooze only works once. After that you have to get up. {vocalsound}"),
                (_ME, "People might hate that. {vocalsound}"),
                (_PM, "Or love it. Maybe it's a setting. Snooze once, or normal snooze."),
                (_UI, "Okay, a setting. And the display only shows the time when you touch it, so it's dark at night."),
                (_ID, "That also saves power."),
                (_PM, "Good. So, um, to sum up: the light ring, nature sounds as backup, no radio, one dial, tap to snooze, and a dark display. Everyone happy?"),
                (_UI, "Yep."),
                (_ID, "Mm-hmm."),
                (_ME, "Yes."),
                (_PM, "Great. Next time we'll look at materials and the shape. Thanks."),
            ),
        ),
        "In the functional design meeting, Marketing presented a survey showing that most people used their phones as alarms but disliked sudden loud sounds and would welcome a gentle wake-up. Industrial Designer proposed an LED ring that shines a sunrise onto the wall, a small speaker with nature sounds as a backup, and no radio. User Interface proposed a single dial, tap to snooze with a snooze-once setting, and a display that stays dark until touched. The team agreed on these functions and will discuss materials and shape next time.",
        (
            Query(
                "Summarize the survey results presented by Marketing.",
                "Marketing received sixty-two answers, mostly from people aged twenty-five to forty. Seventy percent used their phone as an alarm, but half wanted to keep the phone out of the bedroom, and people most disliked loud, sudden alarm sounds. Forty percent would pay more for a gentle wake-up, and many wanted the clock to look like furniture rather than plastic.",
                ((0, 1, 5),),
            ),
            Query(
                "Why did the team decide not to include a radio?",
                "Industrial Designer said a radio would add about two euros and another antenna, and Marketing added that only eight percent of the survey respondents listened to the radio in the morning, so the team dropped it.",
                ((1, 7, 9),),
            ),
        ),
    ),
    Meeting(
        "SM1002c",
        "Product",
        "val",
        (
            _sec(
                "Energy source and materials for the bicycle light",
                (_PM, "Okay, um, welcome to the conceptual design meeting. So we have three presentations and then we need to decide on a concept. Pieter, do you want to go first?"),
                (_ID, "Yeah. So, um, for the bike light the big question is power. We have three options: normal batteries, a rechargeable battery with USB, or a small dynamo on the wheel."),
                (_PM, "Mm-hmm."),
                (_ID, "The dynamo is nice because kids never have to charge it, but it only works while they're moving, so at a traffic light the light goes out, uh, unless we add a capacitor. And it makes the wheel a bit harder to turn."),
                (_ME, "For a seven-year-old that matters."),
                (_ID, "Exactly. So I'd go with USB rechargeable. It's one cable, and parents already charge everything anyway."),
                (_UI, "How long does it last?"),
                (_ID, "About ten hours on the normal setting. And for the case I'd use rubber over the plastic, so it survives being dropped. Kids drop their bikes all the time. {vocalsound}"),
                (_PM, "Okay, good."),
            ),
            _sec(
                "Trends among parents and children",
                (_PM, "Luis, the trends?"),
                (_ME, "So, um, I looked at what sells in the kids' bike market. Parents buy for safety first. Nearly every review I read mentions visibility. But the kids choose by how it looks. Animals, bright colours, anything that looks like a character."),
                (_UI, "So the parents pay, but the kids decide. {vocalsound}"),
                (_ME, "Basically, yeah. And the other trend is, uh, lights that flash in patterns. Kids love that. Parents worry a bit that it distracts drivers."),
                (_PM, "Is it legal? Flashing?"),
                (_ME, "Flashing is allowed for bike lights in most of Europe, but it has to meet the brightness standard."),
                (_ID, "We can meet that with the LED I picked. No problem."),
            ),
            _sec(
                "Controls, the animal-face design and the concept decision",
                (_PM, "Okay, Grace, the interface."),
                (_UI, "Right. So I want one big button. A kid wearing gloves has to be able to press it. Press once for on, again for flashing, and hold it for off."),
                (_ID, "That's easy to build."),
                (_UI, "And, um, the idea I like most: the light is shaped like an animal face, and the eyes are the LEDs. The kids can choose an owl, a fox or a frog."),
                (_ME, "That's perfect for the trend. And the parents still see a proper light."),
                (_PM, "Can we do three shapes within the budget, though? Three moulds is expensive."),
                (_ID, "One mould for the body, and the face is a clip-on cover. Three covers are cheap. {disfmarker} Well, cheaper."),
                (_PM, "Okay. So, um, decision: USB rechargeable, rubber case, one big button and clip-on animal covers. Is everyone okay with that?"),
                (_ME, "Yes."),
                (_UI, "Yes, good."),
                (_ID, "Yep."),
                (_PM, "Great. For the next meeting, Pieter and Grace, please make a clay model of it. Luis, can you look at selling the covers as extra accessories?"),
                (_ME, "Sure, that could actually be extra money."),
            ),
        ),
        "In the conceptual design meeting for a children's bicycle light, Industrial Designer recommended a USB rechargeable battery and a rubber case. Marketing reported that parents buy for safety while children choose by looks, and that flashing lights were popular. User Interface proposed one big button and an animal-face design, and the team decided on one body with clip-on animal covers. Clay models and the pricing of extra covers were assigned for the next meeting.",
        (
            Query(
                "Why did Industrial Designer prefer a rechargeable battery over a dynamo?",
                "Industrial Designer explained that a dynamo never needs charging but only works while the bike is moving, so the light would go out at traffic lights, and it makes the wheel harder to turn, which matters for young children. He recommended a USB rechargeable battery because parents already charge everything.",
                ((0, 1, 5),),
            ),
            Query(
                "Summarize the discussion about the animal-face design.",
                "User Interface proposed shaping the light like an animal face with the LEDs as eyes, letting children choose an owl, a fox or a frog. Marketing said this matched the trend of children choosing by looks, while parents still got a proper light. Project Manager worried that three moulds would be too expensive, so Industrial Designer suggested one body with clip-on face covers, which the team agreed on.",
                ((2, 3, 10),),
            ),
        ),
    ),
    Meeting(
        "SM1003d",
        "Product",
        "test",
        (
            _sec(
                "Presentation of the prototype remote control",
                (_PM, "Okay, this is our last meeting, the detailed design. Um, we'll look at the prototype, evaluate it, and check the cost. Ines and Dev, you have the prototype?"),
                (_ID, "Yes. So here it is. {vocalsound} It's a bit bigger than a normal remote, so it's easier to hold if your hands are stiff. The case is soft rubber, dark blue, and the buttons are, uh, twice the usual size."),
                (_UI, "There are only eight buttons: power, volume up and down, channel up and down, mute, and two favourite channel buttons that the family can set."),
                (_ME, "Only eight? {vocalsound}"),
                (_UI, "That's the point. Everything else, the menus and settings, is under a sliding cover on the back, for the grandchildren to set up."),
                (_ID, "And the buttons light up when you pick it up, so it works in the dark. There's a motion sensor inside."),
                (_PM, "Nice. And the finder?"),
                (_ID, "Oh, yeah. If you press a button on the TV box, the remote beeps. Because, um, everybody loses the remote."),
            ),
            _sec(
                "Evaluation of the prototype against the criteria",
                (_PM, "Okay, the evaluation. Kofi, you made the criteria?"),
                (_ME, "Yeah, we score from one to seven, one is best. First, easy to use for older people."),
                (_UI, "One. I'd give it a one."),
                (_ID, "One."),
                (_PM, "One, I think. Next?"),
                (_ME, "Looks modern, not like a medical device. That was the biggest thing in the interviews."),
                (_ID, "Um, maybe a three? The rubber looks friendly, but it's quite big."),
                (_UI, "I'd say two. The dark blue helps a lot."),
                (_PM, "Let's say two point five. Next."),
                (_ME, "Robust. Survives being dropped."),
                (_ID, "One. I dropped it off the table about twenty times this morning. {vocalsound}"),
                (_ME, "{vocalsound} Okay, one. And the last one: the family can set it up easily."),
                (_UI, "Two. The hidden panel works, but the instructions need to be clearer."),
                (_ME, "So overall about one point six. That's a good score."),
            ),
            _sec(
                "Production cost and closing of the project",
                (_PM, "Okay, the cost. Our limit was twelve fifty."),
                (_ID, "So, with the motion sensor, the lit buttons and the beeper, we're at thirteen forty. So we're, uh, ninety cents over."),
                (_PM, "Hmm. What can we drop?"),
                (_UI, "Not the big buttons. That's the whole product."),
                (_ID, "We could lose the light-up buttons and use glow-in-the-dark paint. That saves about a euro."),
                (_ME, "Older users mentioned the dark a lot in the interviews, though. Could we make the case from standard rubber instead of the soft one?"),
                (_ID, "That's sixty cents. Plus a simpler beeper, another forty. That gets us to twelve forty."),
                (_PM, "Okay, then let's do that and keep the lights. Um, I think we can be proud of this one. Thanks, everyone, great work on the project."),
                (_UI, "Thanks."),
                (_ME, "Thank you."),
            ),
        ),
        "In the final, detailed design meeting, Industrial Designer and User Interface presented a large, soft remote control for older people with eight big buttons, a hidden settings panel, light-up buttons and a remote finder. Marketing led an evaluation on four criteria, and the prototype scored well, especially for ease of use and robustness. The prototype was ninety cents over the cost limit, so the team chose a standard rubber case and a simpler beeper to stay within budget while keeping the lit buttons.",
        (
            Query(
                "What features did the prototype remote control have?",
                "The prototype was larger than a usual remote so that people with stiff hands could hold it, with a soft dark blue rubber case and buttons twice the usual size. It had only eight buttons, including two favourite channels set by the family, while menus and settings were hidden under a sliding cover. The buttons lit up when the remote was picked up, and a button on the TV box made the remote beep so it could be found.",
                ((0, 1, 7),),
            ),
            Query(
                "How did the team bring the production cost under the limit?",
                "The prototype cost 13.40 euros against a limit of 12.50. Industrial Designer suggested replacing the light-up buttons with glow-in-the-dark paint, but Marketing pointed out that older users often mentioned the dark. Instead, the team switched to a standard rubber case and a simpler beeper, which brought the cost to 12.40 euros while keeping the lights.",
                ((2, 0, 7),),
            ),
        ),
    ),
)

# QMSum's Academic and Product transcripts are tokenized speech: a space before each
# punctuation mark ("OK , so ."). Committee transcripts are edited prose and stay as written.
_SPOKEN_DOMAINS = ("Academic", "Product")
_PUNCT = re.compile(r"(?<=\S)([.,?!;:])(?=\s|$)")


def _spoken(text: str) -> str:
    return _PUNCT.sub(r" \1", text)


def meeting_json(meeting: Meeting) -> dict:
    """One meeting as QMSum's JSON object: the four keys, in QMSum's order, spans as string pairs."""
    starts: list[int] = []
    transcript: list[dict[str, str]] = []
    for section in meeting.sections:
        starts.append(len(transcript))
        for speaker, text in section.turns:
            content = _spoken(text) if meeting.domain in _SPOKEN_DOMAINS else text
            transcript.append({"speaker": speaker, "content": content})
    ends = [s - 1 for s in starts[1:]] + [len(transcript) - 1]

    def span(section: int, first: int, last: int) -> list[str]:
        n = len(meeting.sections[section].turns)
        last = n - 1 if last == -1 else last
        if not 0 <= first <= last < n:
            raise ValueError(f"{meeting.meeting_id}: span ({section}, {first}, {last}) outside a section of {n} turns")
        return [str(starts[section] + first), str(starts[section] + last)]

    return {
        "topic_list": [
            {"topic": s.topic, "relevant_text_span": [[str(starts[i]), str(ends[i])]]}
            for i, s in enumerate(meeting.sections)
        ],
        "general_query_list": [{"query": meeting.general_query, "answer": meeting.summary}],
        "specific_query_list": [
            {"query": q.query, "answer": q.answer, "relevant_text_span": [span(*s) for s in q.spans]}
            for q in meeting.specific
        ],
        "meeting_transcripts": transcript,
    }


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------

_README = """\
# MASCOT offline sample

This folder is the project's offline default data. It is written by `mascot`
(`mascot/data/sample.py`) so that a fresh clone runs the whole pipeline with no
download. Every conversation, meeting, summary and query here was written for
this project; none of it is taken from EmpatheticDialogues or QMSum. Only the
file formats are the same, so the loaders for the real datasets read it as is.

Licence: the same as the project (Apache-2.0).

## Contents

- `empathetic_dialogues/{{train,valid,test}}.csv`: the original EmpatheticDialogues
  distribution layout, header
  `{ed_header}`.
  Fields are joined with plain commas, a comma inside text is written `_comma_`,
  nothing is quoted, lines end with `\\n`, one row per utterance. The first
  speaker tells a situation (`prompt`, labelled with one of the 32 emotions in
  `context`) and the listener answers.
{ed_counts}
- `qmsum/{{Academic,Committee,Product}}/{{train,val,test}}/<meeting>.json`: one meeting
  per file with QMSum's keys `topic_list`, `general_query_list`,
  `specific_query_list` and `meeting_transcripts`; spans are inclusive turn
  indices written as strings. Meetings per train/val/test:
{qm_counts}
- `qmsum/Product/jsonl/train.jsonl`: the Product train meetings again in QMSum's
  JSONL form, one meeting object per line.

## Regenerate

Do not edit these files by hand. Change `mascot/data/sample.py`, then run

    mascot sample write data/sample

`tests/test_sample.py` fails when the files here differ from what the module writes.
"""


def _readme() -> str:
    ed_counts = "\n".join(
        f"  - {split}: {len(convs)} conversations, {sum(len(c.utterances) for c in convs)} rows"
        for split, convs in ED_SAMPLE.items()
    )
    qm_counts = "\n".join(
        f"  - {domain}: "
        + "/".join(str(sum(m.domain == domain and m.split == s for m in MEETINGS)) for s in QMSUM_SPLITS)
        for domain in QMSUM_DOMAINS
    )
    return _README.format(ed_header=ED_HEADER, ed_counts=ed_counts, qm_counts=qm_counts)


def _files() -> list[tuple[str, str]]:
    """(relative path, text) of every sample file, in a fixed order."""
    files: list[tuple[str, str]] = [("README.md", _readme()), (".gitattributes", "* -text\n")]
    for split in ED_SPLITS:
        files.append((f"empathetic_dialogues/{split}.csv", _empathetic_csv(split)))
    seen: set[str] = set()
    for meeting in MEETINGS:
        if meeting.meeting_id in seen:
            raise ValueError(f"duplicate meeting id {meeting.meeting_id}")
        seen.add(meeting.meeting_id)
        # QMSum's own files: json.dumps(indent=4), no newline at the end
        text = json.dumps(meeting_json(meeting), indent=4)
        files.append((f"qmsum/{meeting.domain}/{meeting.split}/{meeting.meeting_id}.json", text))
    jsonl = [json.dumps(meeting_json(m)) for m in MEETINGS if m.domain == "Product" and m.split == "train"]
    files.append(("qmsum/Product/jsonl/train.jsonl", "\n".join(jsonl) + "\n"))
    return files


def write_sample(root: Path) -> list[Path]:
    """Write the sample under ``root`` (created if missing) and return the written paths.

    The output is byte-identical on every run and platform (UTF-8, ``\\n`` line ends).
    Files already in ``root`` that the sample does not contain are left alone.
    """
    root = Path(root)
    written: list[Path] = []
    for rel, text in _files():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        written.append(path)
    return written
